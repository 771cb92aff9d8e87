"""The `clickpath` command: `up` runs everything; the other commands run one role or ask it.

This module parses the arguments and hands each command to a thin function: `up` to
clickpath.run.up, `status` to clickpath.run.state, the roles `up` runs to commands_roles,
topics/import/mappings/report/sql to commands_data, keys/links/postbacks/webhooks/deliveries to
commands_admin, the benchmarks to commands_bench (their arguments: cli_bench). Client commands
are first aimed at the running `up` (clickpath.run.instances). Every command and flag here is
relied on by operators and scripts: add, do not rename. The text a person reads in `--help` is
the parser's (DESCRIPTION and each command's description), not these docstrings.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import ValidationError

from clickpath.domain.multitouch import MODELS
from clickpath.run.arguments import Parser, add_command, decimal, iso_date
from clickpath.run.cli_bench import add_bench_commands
from clickpath.run.commands_admin import cmd_deliveries, cmd_endpoints, cmd_keys, cmd_links
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


DESCRIPTION = """\
clickpath tracks affiliate clicks, player registrations and deposits, attributes them to
affiliates, sends the affiliates' postbacks and reports the funnel, from Kafka to ClickHouse.

Try it:   clickpath up --demo     (everything embedded, with demo traffic; Ctrl-C stops it)
Then, in another terminal:  clickpath status · clickpath report · clickpath links
"""
EPILOG = "Each command has its own help: clickpath COMMAND --help. Documentation: README.md, docs/."

# Internal: the roles `up` runs, one process each (also for one-container-per-role deploys).
HIDDEN = ("worker", "sink", "api", "demo")
FORMATS = ["table", "csv", "json"]


def _version() -> str:
    try:
        return version("clickpath")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> Parser:
    parser = Parser(prog="clickpath", description=DESCRIPTION, epilog=EPILOG,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"clickpath {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    up = add_command(sub, "up", "run the whole pipeline (embedded broker and ClickHouse by default)",
                     "Runs the broker (embedded unless CLICKPATH_KAFKA_BOOTSTRAP_SERVERS is set),"
                     " the topics, the stream worker, the sinks and the HTTP service until Ctrl-C;"
                     " prints where everything is once the service answers.")
    up.add_argument("--demo", action="store_true", help="also play demo traffic and receive postbacks")
    up.add_argument("--rate", type=float, default=50.0, help="demo events per second")
    up.add_argument("--status-every", type=float, default=10.0, help="seconds between status lines")
    up.set_defaults(func=cmd_up)

    status = add_command(sub, "status", "is `clickpath up` running: broker, service, each role's PID"
                         " and state (exit 1 if not)",
                         "Shows the running `clickpath up`: its broker, service URL and every role's"
                         " PID and state. Exits 1 when it does not run.")
    status.add_argument("--format", choices=["table", "json"], default="table")
    status.set_defaults(func=cmd_status)

    worker = add_command(sub, "worker", None, "Internal: one Faust stream worker (a role of `up`).")
    worker.add_argument("--index", type=int, default=0, help="distinguishes workers' local state")
    worker.set_defaults(func=cmd_worker)

    sink = add_command(sub, "sink", None, "Internal: one sink (a role of `up`).")
    sink.add_argument("kind", choices=["clickhouse", "postbacks"])
    sink.set_defaults(func=cmd_sink)

    api = add_command(sub, "api", None, "Internal: the HTTP service (a role of `up`).")
    api.set_defaults(func=cmd_api)

    demo = add_command(sub, "demo", None, "Internal: demo traffic or the demo postback receiver.")
    demo.add_argument("kind", choices=["traffic", "receiver"])
    demo.add_argument("--rate", type=float, default=50.0)
    demo.add_argument("--port", type=int, default=8088)
    demo.set_defaults(func=cmd_demo)

    _add_report(sub)

    sql = add_command(sub, "sql", "one read-only SELECT over the analyst views (docs/analytics.md)",
                      "Runs one read-only SELECT over the analyst views (funnel_daily, players,"
                      " touchpoint_paths ...; docs/analytics.md) on the running pipeline.")
    sql.add_argument("query", help='e.g. "SELECT affiliate_id, sum(clicks) FROM funnel_daily'
                     ' GROUP BY affiliate_id"')
    sql.add_argument("--format", choices=FORMATS, default="table")
    sql.add_argument("--brand", default=None, help="only this brand's rows")
    sql.set_defaults(func=cmd_sql)

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

    _add_endpoints(sub)

    deliveries = add_command(sub, "deliveries", "resend dead-lettered postbacks and webhooks",
                             "Resends dead-lettered postbacks and webhooks with their delivery ids"
                             " (receivers drop repeats).")
    deliveries.add_argument("action", choices=["replay"])
    deliveries.add_argument("--endpoint", default=None, help="only this endpoint's")
    deliveries.add_argument("--job", default=None, help="only this delivery id")
    deliveries.set_defaults(func=cmd_deliveries)

    keys = add_command(sub, "keys", "mint, list and revoke API keys (effective on the running service)",
                       "Mints, lists and revokes the HTTP API's keys; a change takes effect on the"
                       " running service at once.")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("key", nargs="?", help="revoke: the key id or the key itself")
    keys.add_argument("--role", choices=["operator", "affiliate", "analyst", "admin"], default="operator")
    keys.add_argument("--brand", default=None,
                      help="operator and analyst keys (needed): the brand they send events for and"
                      " read reports of; affiliate keys (optional): the one brand they read")
    keys.add_argument("--affiliate", default=None, help="affiliate keys: the affiliate whose data it reads")
    keys.add_argument("--format", choices=["table", "json"], default="table")
    keys.set_defaults(func=cmd_keys)

    links = add_command(sub, "links", "list every tracking link (configuration and admin changes)",
                        "Lists every campaign's tracking link as the running service serves it"
                        " (configuration plus admin changes).")
    links.add_argument("--format", choices=["table", "json"], default="table")
    links.set_defaults(func=cmd_links)

    add_bench_commands(sub)  # developer tools: listed last
    parser.public_commands = [n for n in sub.choices if n not in HIDDEN]
    return parser


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


def _add_endpoints(sub: argparse._SubParsersAction[Parser]) -> None:
    for name, what in (("postbacks", "affiliates' postback endpoints"),
                       ("webhooks", "webhook endpoints of operators and affiliate managers")):
        ep = add_command(sub, name, f"add, list, disable, enable {what} (effective at once)",
                         f"Adds, lists, disables and enables {what}; a change takes effect on the"
                         " running delivery engine at once (docs/delivery.md).")
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
        ep.add_argument("--replace", action="store_true", help="add: overwrite the endpoint with this id")
        ep.add_argument("--reason", default=None, help="disable: why")
        ep.add_argument("--format", choices=["table", "json"], default="table")
        ep.set_defaults(func=cmd_endpoints)


# Commands that talk to a running `up` (or its data dir): aimed at it before they run.
CLIENT_COMMANDS = frozenset({"status", "report", "sql", "topics", "import", "postbacks", "webhooks",
                             "deliveries", "keys", "links"})


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
        sys.stdout.flush()  # here, not at exit: a closed pipe must reach the handler below
    except BrokenPipeError:
        # The reader went away (`clickpath report | head -1`): stop quietly, as a Unix tool
        # killed by SIGPIPE would, and keep Python from complaining while it flushes stdout.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(128 + signal.SIGPIPE)
    except KeyboardInterrupt:
        sys.exit(130)


def _main(argv: list[str] | None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return
    try:
        settings = Settings()
    except (ValidationError, FileNotFoundError, ValueError) as e:
        _die(f"invalid settings: {e}")
    try:
        if args.command in CLIENT_COMMANDS:
            from clickpath.run.instances import use_running_up

            settings = use_running_up(settings)
        if args.command in ("report", "sql"):
            from clickpath.run.checks import check_filters

            check_filters(settings, args)
        args.func(settings, args)
    except CommandError as e:
        _die(str(e), e.code)


if __name__ == "__main__":
    main()
