"""The `clickpath` command: `up` runs everything; the other commands run one role or ask it.

This module parses the arguments and hands each command to a thin function: `up` to
clickpath.run.up, `status` to clickpath.run.state, the roles `up` runs to commands_roles,
topics/import/mappings/report/sql to commands_data, keys/links/postbacks/webhooks/deliveries to
commands_admin, the benchmarks to commands_bench. Every command and flag here is relied on by
operators and scripts: add, do not rename.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError

from clickpath.devtools.bench.results import DEFAULT_RESULTS_FILE
from clickpath.domain.multitouch import MODELS
from clickpath.run.commands_admin import cmd_deliveries, cmd_endpoints, cmd_keys, cmd_links
from clickpath.run.commands_bench import (
    cmd_bench,
    cmd_bench_clickhouse,
    cmd_bench_cohorts,
    cmd_bench_deliveries,
    cmd_bench_ingress,
    cmd_bench_state,
)
from clickpath.run.commands_data import (
    REPORT_KINDS,
    cmd_fx,
    cmd_import,
    cmd_mappings,
    cmd_report,
    cmd_sql,
    cmd_topics,
)
from clickpath.run.commands_roles import cmd_api, cmd_demo, cmd_sink, cmd_worker
from clickpath.run.errors import CommandError
from clickpath.settings import Settings


def _die(message: str, code: int = 2) -> None:
    print(f"clickpath: {message}", file=sys.stderr)
    sys.exit(code)


def cmd_up(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.run.guards import require_own_pseudonym_key
    from clickpath.run.up import UpOptions, run_up

    require_own_pseudonym_key(settings, "up", demo=args.demo)
    run_up(settings, UpOptions(demo=args.demo, rate=args.rate, status_every=args.status_every))


def cmd_status(settings: Settings, args: argparse.Namespace) -> None:
    """Exit 0 while `up` runs; 1 (with the reason on stderr) when it does not."""
    from clickpath.run.state import current_status, render

    try:
        status = current_status(settings.data_dir.resolve())
    except ValueError as e:
        raise CommandError(f"cannot read the state of `clickpath up`: {e}", 1) from None
    print(render(status, args.format), end="")
    if not status.up:
        raise CommandError(status.message, 1)


def decimal(text: str) -> Decimal:
    """A decimal flag; argparse reports a ValueError as a usage error (Decimal raises others)."""
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ValueError(text) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clickpath", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole pipeline (embedded broker and ClickHouse by default)")
    up.add_argument("--demo", action="store_true", help="also play demo traffic and receive postbacks")
    up.add_argument("--rate", type=float, default=50.0, help="demo events per second")
    up.add_argument("--status-every", type=float, default=10.0, help="seconds between status lines")
    up.set_defaults(func=cmd_up)

    status = sub.add_parser("status", help="is `clickpath up` running: broker, service, each role's PID"
                            " and state (exit 1 if not)")
    status.add_argument("--format", choices=["table", "json"], default="table")
    status.set_defaults(func=cmd_status)

    worker = sub.add_parser("worker", help="run one Faust stream worker")
    worker.add_argument("--index", type=int, default=0, help="distinguishes workers' local state")
    worker.set_defaults(func=cmd_worker)

    sink = sub.add_parser("sink", help="run one sink")
    sink.add_argument("kind", choices=["clickhouse", "postbacks"])
    sink.set_defaults(func=cmd_sink)

    api = sub.add_parser("api", help="run the HTTP service")
    api.set_defaults(func=cmd_api)

    demo = sub.add_parser("demo", help="demo traffic generator or postback receiver")
    demo.add_argument("kind", choices=["traffic", "receiver"])
    demo.add_argument("--rate", type=float, default=50.0)
    demo.add_argument("--port", type=int, default=8088)
    demo.set_defaults(func=cmd_demo)

    report = sub.add_parser(
        "report", help="funnel KPIs by brand, affiliate and campaign (default), attribution by model,"
        " LTV cohorts, retention"
    )
    report.add_argument("kind", nargs="?", choices=REPORT_KINDS, default="funnel",
                        help="default funnel")
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")
    report.add_argument("--brand", default=None)
    report.add_argument("--since", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    report.add_argument("--until", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
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
                             help="time_decay (default 7)")
    attribution.add_argument("--position-first", type=decimal, default=None, metavar="F",
                             help="position: the first click's share (default 0.4)")
    attribution.add_argument("--position-last", type=decimal, default=None, metavar="F",
                             help="position: the last click's share (default 0.4)")
    attribution.add_argument("--lookback-days", type=int, default=None, metavar="N",
                             help="clicks this many days before the conversion (default"
                             " CLICKPATH_ATTRIBUTION_LOOKBACK_DAYS)")
    cohorts = report.add_argument_group("cohorts and retention (docs/cohorts.md)")
    cohorts.add_argument("--grain", choices=["week", "month"], default=None,
                         help="cohorts by registration week or month (default month)")
    cohorts.add_argument("--periods", type=int, default=None, metavar="N",
                         help="retention: periods 0..N-1 after registration (default 12)")
    report.set_defaults(func=cmd_report)

    sql = sub.add_parser("sql", help="one read-only SELECT over the analyst views"
                         " (docs/analytics.md)")
    sql.add_argument("query", help='e.g. "SELECT affiliate_id, sum(clicks) FROM funnel_daily'
                     ' GROUP BY affiliate_id"')
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.add_argument("--brand", default=None, help="only this brand's rows")
    sql.set_defaults(func=cmd_sql)

    bench = sub.add_parser("bench", help="benchmark the whole pipeline on the embedded broker")
    bench.add_argument("--events", type=int, default=30_000, help="events per throughput run")
    bench.add_argument("--workers", default="1,2", help="worker counts to compare, e.g. 1,2")
    bench.add_argument("--latency-rate", type=float, default=1000.0, help="events/s, live")
    bench.add_argument("--latency-seconds", type=float, default=20.0)
    bench.add_argument("--latency-workers", type=int, default=1)
    bench.add_argument("--no-record", action="store_true", help="do not append to the results file")
    bench.add_argument("--results", type=Path, default=DEFAULT_RESULTS_FILE, metavar="FILE",
                          help="append the result to FILE as a JSON line (default %(default)s)")
    bench.set_defaults(func=cmd_bench)

    bench_in = sub.add_parser("bench-ingress", help="benchmark the event API and the click tracker")
    bench_in.add_argument("--seconds", type=float, default=10.0, help="per phase")
    bench_in.add_argument("--batch", type=int, default=500, help="events per event-API request")
    bench_in.add_argument("--concurrency", type=int, default=4, help="event-API clients")
    bench_in.add_argument("--click-rate", type=float, default=500.0, help="tracker requests/s")
    bench_in.add_argument("--no-record", action="store_true", help="do not append to the results file")
    bench_in.add_argument("--results", type=Path, default=DEFAULT_RESULTS_FILE, metavar="FILE",
                             help="append the result to FILE as a JSON line (default %(default)s)")
    bench_in.set_defaults(func=cmd_bench_ingress)

    bench_dl = sub.add_parser("bench-deliveries", help="benchmark postback delivery to local receivers")
    bench_dl.add_argument("--backlog", type=int, default=20_000, help="postbacks for the throughput run")
    bench_dl.add_argument("--endpoints", type=int, default=10)
    bench_dl.add_argument("--rate", type=float, default=200.0, help="postbacks/s, live")
    bench_dl.add_argument("--seconds", type=float, default=15.0, help="per live run")
    bench_dl.add_argument("--no-record", action="store_true", help="do not append to the results file")
    bench_dl.add_argument("--results", type=Path, default=DEFAULT_RESULTS_FILE, metavar="FILE",
                             help="append the result to FILE as a JSON line (default %(default)s)")
    bench_dl.set_defaults(func=cmd_bench_deliveries)

    bench_ch = sub.add_parser(
        "bench-clickhouse", help="benchmark the funnel queries on big ClickHouse tables"
    )
    bench_ch.add_argument("--sizes", default="10000000",
                          help="events to fill up to, measured at each, e.g. 10000000,100000000")
    bench_ch.add_argument("--chunk", type=int, default=1_000_000, help="events per bulk insert")
    bench_ch.add_argument("--repeats", type=int, default=30, help="runs of each funnel query")
    bench_ch.add_argument("--clickhouse-url", default=None, metavar="DSN",
                          help="a ClickHouse server (its clickpath_bench database is replaced); "
                               "default: a fresh embedded chdb directory")
    bench_ch.add_argument("--no-record", action="store_true", help="do not append to the results file")
    bench_ch.add_argument("--results", type=Path, default=DEFAULT_RESULTS_FILE, metavar="FILE",
                          help="append the results to FILE as JSON lines (default %(default)s)")
    bench_ch.set_defaults(func=cmd_bench_clickhouse)

    bench_co = sub.add_parser(
        "bench-cohorts", help="benchmark the cohort and retention queries over many players"
    )
    bench_co.add_argument("--players", type=int, default=1_000_000, help="players to fill")
    bench_co.add_argument("--chunk", type=int, default=200_000, help="players per bulk insert")
    bench_co.add_argument("--repeats", type=int, default=3, help="runs of each query")
    bench_co.add_argument("--periods", type=int, default=12, help="retention periods (30 days)")
    bench_co.add_argument("--clickhouse-url", default=None, metavar="DSN",
                          help="a ClickHouse server (its clickpath_bench database is replaced); "
                               "default: a fresh embedded chdb directory")
    bench_co.add_argument("--no-record", action="store_true", help="do not append to the results file")
    bench_co.add_argument("--results", type=Path, default=DEFAULT_RESULTS_FILE, metavar="FILE",
                          help="append the result to FILE as a JSON line (default %(default)s)")
    bench_co.set_defaults(func=cmd_bench_cohorts)

    bench_st = sub.add_parser(
        "bench-state", help="benchmark a long-lived player's state size and per-event cost"
    )
    bench_st.add_argument("--deposits", type=int, default=100_000, help="deposits of the VIP")
    bench_st.add_argument("--wagers", type=int, default=100_000, help="wagers of the VIP")
    bench_st.add_argument("--no-record", action="store_true", help="do not append to the results file")
    bench_st.add_argument("--results", type=Path, default=DEFAULT_RESULTS_FILE, metavar="FILE",
                          help="append the result to FILE as a JSON line (default %(default)s)")
    bench_st.set_defaults(func=cmd_bench_state)

    topics = sub.add_parser("topics", help="create every topic with its partition count")
    topics.set_defaults(func=cmd_topics)

    imp = sub.add_parser("import", help="import history from a JSONL or CSV file (resumable, no duplicates)")
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

    mappings = sub.add_parser("mappings", help="list the source mappings every door applies (exit 2 if"
                              " one is invalid)")
    mappings.add_argument("--format", choices=["table", "json"], default="table")
    mappings.set_defaults(func=cmd_mappings)

    fx = sub.add_parser("fx", help="show the reporting currency and its effective-dated FX table")
    fx.add_argument("--format", choices=["table", "json"], default="table")
    fx.set_defaults(func=cmd_fx)

    for name, what in (("postbacks", "affiliates' postback endpoints"),
                       ("webhooks", "webhook endpoints of operators and affiliate managers")):
        ep = sub.add_parser(name, help=f"add, list, disable, enable {what} (effective at once)")
        actions = ["add", "list", "disable", "enable", "rotate-secret"]
        ep.add_argument("action", choices=actions + (["test", "presets"] if name == "postbacks" else []))
        ep.add_argument("id", nargs="?", help="endpoint id, e.g. aff-1-main")
        ep.add_argument("--affiliate", default=None)
        ep.add_argument("--brand", default=None, help="webhooks: only this brand's events")
        ep.add_argument("--url", default=None, help="postbacks: a template with {click_id}... macros")
        if name == "postbacks":
            ep.add_argument("--preset", default=None,
                            help="a tracker preset (clickpath postbacks presets), with --base-url")
            ep.add_argument("--base-url", default=None, help="the tracker's postback URL, no macros")
            ep.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                            help="a preset override, e.g. goal_ftd=3 (repeatable)")
            ep.add_argument("--event", default="ftd",
                            help="test: the sample conversion's event (default ftd)")
        ep.add_argument("--method", choices=["GET", "POST"], default=None)
        ep.add_argument("--body", choices=["none", "form", "json"], default="none")
        ep.add_argument("--events", default=None, help="comma-separated, e.g. registration,ftd")
        ep.add_argument("--sign", action="store_true", help="postbacks: sign (prints the secret)")
        ep.add_argument("--reason", default=None, help="disable: why")
        ep.add_argument("--format", choices=["table", "json"], default="table")
        ep.set_defaults(func=cmd_endpoints)

    deliveries = sub.add_parser("deliveries", help="resend dead-lettered postbacks and webhooks")
    deliveries.add_argument("action", choices=["replay"])
    deliveries.add_argument("--endpoint", default=None, help="only this endpoint's")
    deliveries.add_argument("--job", default=None, help="only this delivery id")
    deliveries.set_defaults(func=cmd_deliveries)

    keys = sub.add_parser("keys", help="mint, list and revoke API keys (effective on the running service)")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("key", nargs="?", help="revoke: the key id or the key itself")
    keys.add_argument("--role", choices=["operator", "affiliate", "analyst", "admin"], default="operator")
    keys.add_argument("--brand", default=None,
                      help="operator and analyst keys (needed): the brand they send events for and"
                      " read reports of; affiliate keys (optional): the one brand they read")
    keys.add_argument("--affiliate", default=None, help="affiliate keys: the affiliate whose data it reads")
    keys.add_argument("--format", choices=["table", "json"], default="table")
    keys.set_defaults(func=cmd_keys)

    links = sub.add_parser("links", help="list every tracking link (configuration and admin changes)")
    links.add_argument("--format", choices=["table", "json"], default="table")
    links.set_defaults(func=cmd_links)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except (ValidationError, FileNotFoundError, ValueError) as e:
        _die(f"invalid settings: {e}")
    try:
        args.func(settings, args)
    except CommandError as e:
        _die(str(e), e.code)


if __name__ == "__main__":
    main()
