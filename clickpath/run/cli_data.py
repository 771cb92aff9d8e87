"""The arguments of the data and report commands: report, ledger, statements, sql, player,
topics, import, mappings, fx.
Their functions: commands_data."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from clickpath.domain.identity.journey import DEFAULT_TIMELINE, MAX_TIMELINE
from clickpath.domain.multitouch import (
    DEFAULT_HALF_LIFE_DAYS,
    DEFAULT_POSITION_FIRST,
    DEFAULT_POSITION_LAST,
    MODELS,
)
from clickpath.run.arguments import Parser, add_command, decimal, iso_date
from clickpath.run.commands_close import (
    add_amount_argument,
    cmd_adjust,
    cmd_close,
    cmd_invoice,
    cmd_pay,
)
from clickpath.run.commands_data import (
    REPORT_KINDS,
    cmd_fx,
    cmd_import,
    cmd_ledger,
    cmd_mappings,
    cmd_report,
    cmd_sql,
    cmd_statements,
    cmd_topics,
)
from clickpath.run.commands_privacy import cmd_player_or_action

FORMATS = ["table", "csv", "json"]
# Of these, the commands that talk to a running `up` (cli.CLIENT_COMMANDS).
CLIENT_COMMANDS = frozenset({"report", "sql", "player", "topics", "import", "ledger", "statements",
                             "close"})


def add_data_commands(sub: Any) -> None:
    _add_report(sub)
    _add_commissions(sub)

    sql = add_command(sub, "sql", "one read-only SELECT over the analyst views (docs/analytics.md)",
                      "Runs one read-only SELECT over the analyst views (funnel_daily, players,"
                      " touchpoint_paths ...; docs/analytics.md) on the running pipeline.")
    sql.add_argument("query", help='e.g. "SELECT affiliate_id, sum(clicks) FROM funnel_daily'
                     ' GROUP BY affiliate_id"')
    sql.add_argument("--format", choices=FORMATS, default="table")
    sql.add_argument("--brand", default=None, help="only this brand's rows")
    sql.set_defaults(func=cmd_sql)

    player = add_command(sub, "player", "one player's journey (JSON); `player erase|certificate`:"
                         " ask to erase a player, print its erasure certificate",
                         "Prints one brand account's journey as JSON (docs/identity.md#journey):"
                         " its person and the person's accounts at every brand, its links with"
                         " their scores and reasons, multi-account signals, the clicks on its"
                         " path, its newest events and its profile. `player erase --brand B"
                         " --player P` asks the running pipeline to erase the player"
                         " (docs/privacy.md#erasure); `player certificate --brand B --player P`"
                         " prints its erasure certificate once the erasure is done.")
    player.add_argument("player_id", metavar="PLAYER_ID|erase|certificate",
                        help="the player whose journey to print; or `erase` (ask to erase the"
                        " --player, docs/privacy.md#erasure) or `certificate` (print its erasure"
                        " certificate)")
    player.add_argument("--brand", required=True, metavar="B", help="the player's brand")
    player.add_argument("--limit", type=int, default=DEFAULT_TIMELINE, metavar="N",
                        help=f"the newest N events (default {DEFAULT_TIMELINE}, at most"
                        f" {MAX_TIMELINE})")
    player.add_argument("--player", default=None, metavar="P",
                        help="erase, certificate: the player")
    player.add_argument("--requested-by", default=None, metavar="TEXT",
                        help="erase: who asks, e.g. the DPO ticket (default: local-cli and the"
                        " OS user); no personal data")
    player.add_argument("--reason", default=None, metavar="TEXT",
                        help="erase: why; no personal data")
    player.set_defaults(func=cmd_player_or_action)

    topics = add_command(sub, "topics", "create every topic with its partition count",
                         "Creates every clickpath topic that does not exist yet, on the running"
                         " `up`'s broker or CLICKPATH_KAFKA_BOOTSTRAP_SERVERS.")
    topics.set_defaults(func=cmd_topics)

    _add_import(sub)

    mappings = add_command(sub, "mappings", "list the source mappings every door applies (exit 2 if"
                           " one is invalid)",
                           "Lists how each source's field names become the schema's"
                           " (docs/mappings.md); exits 2 if a mapping is invalid.")
    mappings.add_argument("--format", choices=["table", "json"], default="table")
    mappings.set_defaults(func=cmd_mappings)

    fx = add_command(sub, "fx", "show the reporting currency and its effective-dated FX table",
                     "Shows the reporting currency and the FX rates the reports convert with.")
    fx.add_argument("--format", choices=["table", "json"], default="table")
    fx.set_defaults(func=cmd_fx)


def period_arg(text: str) -> str:
    """A `YYYY-MM` flag; argparse prints the reason as `argument --period: ...`."""
    from clickpath.domain.commissions.statements import parse_period

    try:
        return parse_period(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def time_arg(text: str) -> datetime:
    """An ISO 8601 time or a day flag; argparse prints the reason as `argument --as-of: ...`."""
    from clickpath.domain.commissions.statements import parse_as_of

    try:
        return parse_as_of(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_commissions(sub: argparse._SubParsersAction[Parser]) -> None:
    as_of = "only entries recorded up to this time: ISO 8601 (no zone: UTC) or YYYY-MM-DD (its end);" \
        " default now"
    ledger = add_command(sub, "ledger", "an affiliate's commission ledger entries for a period",
                         "Lists an affiliate's commission ledger entries that a period pays, each"
                         " once, in the order recorded (docs/ledger.md); `ledger adjust` writes an"
                         " adjustment.")
    ledger.add_argument("--affiliate", default=None, metavar="A", help="(required)")
    ledger.add_argument("--period", default=None, type=period_arg, metavar="YYYY-MM", help="(required)")
    ledger.add_argument("--as-of", type=time_arg, default=None, metavar="TIME", help=as_of)
    ledger.add_argument("--format", choices=FORMATS, default="table")
    ledger.set_defaults(func=cmd_ledger)
    actions = ledger.add_subparsers(dest="ledger_action", metavar="{adjust}")
    adjust = add_command(actions, "adjust", "write an adjustment entry with who and why",
                         "Writes an `adjustment` entry (component manual) for the affiliate in an"
                         " open period (default: today's), recorded with who and why.")
    adjust.add_argument("--affiliate", required=True, metavar="A")
    add_amount_argument(adjust)
    adjust.add_argument("--currency", required=True, metavar="CUR", help="e.g. EUR")
    adjust.add_argument("--reason", required=True, help="why (kept with the entry)")
    adjust.add_argument("--period", default=None, type=period_arg, metavar="YYYY-MM",
                        help="an open period; default the open period of today")
    adjust.add_argument("--format", choices=FORMATS, default="table")
    adjust.set_defaults(func=cmd_adjust)

    statements = add_command(sub, "statements", "commission statements per affiliate and currency",
                             "One row per affiliate and payout currency for a period: CPA count and"
                             " amounts, RevShare, clawbacks, carry-over, adjustments, roll-over, total"
                             " (the exact sum of the ledger entries), status, invoice, payment"
                             " (docs/ledger.md); `statements pay` records a payment.")
    statements.add_argument("--period", default=None, type=period_arg, metavar="YYYY-MM",
                            help="(required)")
    statements.add_argument("--as-of", type=time_arg, default=None, metavar="TIME", help=as_of)
    statements.add_argument("--format", choices=FORMATS, default="table")
    statements.set_defaults(func=cmd_statements)
    actions = statements.add_subparsers(dest="statements_action", metavar="{pay,invoice}")
    pay = add_command(actions, "pay", "mark an affiliate's closed statement paid",
                      "Marks the affiliate's closed statement of the period paid with the payment's"
                      " reference (the same reference again changes nothing).")
    pay.add_argument("--period", required=True, type=period_arg, metavar="YYYY-MM")
    pay.add_argument("--affiliate", required=True, metavar="A")
    pay.add_argument("--reference", required=True, metavar="R", help="the payment's reference")
    pay.add_argument("--format", choices=FORMATS, default="table")
    pay.set_defaults(func=cmd_pay)
    invoice = add_command(actions, "invoice", "write the invoices of an affiliate's closed statement",
                          "Writes each invoice of the affiliate's closed statement of the period"
                          " (one per payout currency with a positive total) as <number>.<format>"
                          " (docs/invoices.md).")
    invoice.add_argument("--period", required=True, type=period_arg, metavar="YYYY-MM")
    invoice.add_argument("--affiliate", required=True, metavar="A")
    invoice.add_argument("--currency", default=None, metavar="CUR", help="only this currency's")
    invoice.add_argument("--format", choices=["html", "csv", "pdf"], default="html")
    invoice.add_argument("--output", default=".", metavar="DIR", help="the folder (default here)")
    invoice.set_defaults(func=cmd_invoice)

    close = add_command(sub, "close", "close a commission period: freeze, roll over, number invoices",
                        "Closes a period that has ended: its statements freeze (later entries are"
                        " paid in the next open period), a total under the affiliate's minimum"
                        " payout rolls over, positive totals get invoice numbers. A second close"
                        " changes nothing.")
    close.add_argument("--period", required=True, type=period_arg, metavar="YYYY-MM")
    close.add_argument("--format", choices=["table", "json"], default="table")
    close.set_defaults(func=cmd_close)


def _add_report(sub: argparse._SubParsersAction[Parser]) -> None:
    report = add_command(
        sub, "report", "funnel KPIs by brand, affiliate and campaign (default), attribution by model,"
        " LTV cohorts, retention",
        "Reports on the running pipeline: the funnel by brand, affiliate and campaign (default), credit"
        " per attribution model, LTV cohorts or retention. --since and --until are days,"
        " YYYY-MM-DD, both included.",
    )
    report.add_argument("kind", nargs="?", choices=REPORT_KINDS, default="funnel",
                        help="default funnel")
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument("--brand", default=None)
    report.add_argument("--since", type=iso_date, default=None, help="YYYY-MM-DD")
    report.add_argument("--until", type=iso_date, default=None, help="YYYY-MM-DD")
    report.add_argument("--currency", default=None, metavar="CUR",
                        help="funnel table and CSV: only this currency's rows (e.g. EUR)")
    attribution = report.add_argument_group("attribution (docs/attribution-models.md)")
    attribution.add_argument("--model", choices=[*MODELS, "all"], default=None,
                             help="default all")
    attribution.add_argument("--layout", choices=["long", "wide"], default=None,
                             help="long: a row per model and channel (default); wide: the"
                             " models side by side as columns")
    attribution.add_argument("--conversion", choices=["registration", "ftd"], default=None,
                             help="what is credited (default registration)")
    attribution.add_argument("--value", choices=["ngr", "deposits"], default=None,
                             help="the value credited with it (default ngr)")
    attribution.add_argument("--by", choices=["affiliate", "campaign"], default=None,
                             help="the channel credited (default affiliate)")
    attribution.add_argument("--half-life-days", type=float, default=None, metavar="F",
                             help=f"time_decay (default {DEFAULT_HALF_LIFE_DAYS:g})")
    attribution.add_argument("--position-first", type=decimal, default=None, metavar="F",
                             help=f"position: the first click's share (default {DEFAULT_POSITION_FIRST})")
    attribution.add_argument("--position-last", type=decimal, default=None, metavar="F",
                             help=f"position: the last click's share (default {DEFAULT_POSITION_LAST})")
    attribution.add_argument("--lookback-days", type=int, default=None, metavar="N",
                             help="clicks this many days before the conversion (default"
                             " CLICKPATH_ATTRIBUTION_LOOKBACK_DAYS)")
    cohorts = report.add_argument_group("cohorts and retention (docs/cohorts.md)")
    cohorts.add_argument("--grain", choices=["week", "month"], default=None,
                         help="cohorts by registration week or month (default month)")
    cohorts.add_argument("--periods", type=int, default=None, metavar="N",
                         help="retention: periods 0..N-1 after registration (default 12)")
    report.set_defaults(func=cmd_report)


def _add_import(sub: argparse._SubParsersAction[Parser]) -> None:
    imp = add_command(sub, "import", "import history from a JSONL or CSV file (resumable, no duplicates)",
                      "Imports an export (JSONL or CSV, the event API's fields) into the running"
                      " pipeline; re-runs resume and never send an event twice (docs/import.md).")
    imp.add_argument("file", type=Path, help="events in the event API's JSON shape: .jsonl/.ndjson or .csv")
    imp.add_argument("--format", choices=["jsonl", "csv"], default=None, help="default: from the extension")
    imp.add_argument("--brand", default=None, help="fills brand_id; records of another brand are rejected")
    imp.add_argument("--source", default="import", help="the envelope's source where a record names none")
    imp.add_argument("--dry-run", action="store_true", help="validate and count only; send nothing")
    imp.add_argument("--rejects", type=Path, default=None, help="report file; default FILE.rejected.jsonl")
    imp.add_argument("--batch", type=int, default=10_000, help="lines per acknowledged checkpoint")
    imp.add_argument("--rate", type=float, default=None, help="at most this many events/s (default: no cap)")
    imp.add_argument("--ack-timeout", type=float, default=30.0, help="seconds to wait for the broker's acks")
    imp.add_argument("--json", action="store_true", help="print the summary as a JSON line, no progress bar")
    imp.set_defaults(func=cmd_import)
