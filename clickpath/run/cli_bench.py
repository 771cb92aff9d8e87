"""The benchmark commands' arguments (`clickpath bench`, `bench-ingress`, ...): developer
tools the Makefile's bench targets run, kept apart from the commands operators use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clickpath.devtools.bench.results import DEFAULT_RESULTS_FILE
from clickpath.run.arguments import Parser, add_command
from clickpath.run.commands_bench import (
    cmd_bench,
    cmd_bench_clickhouse,
    cmd_bench_cohorts,
    cmd_bench_deliveries,
    cmd_bench_identity,
    cmd_bench_ingress,
    cmd_bench_state,
    cmd_bench_statements,
)

_WHERE = "Results: docs/benchmarks.md; each run appends one JSON line to the results file."


def _recorded(parser: Parser, what: str = "result") -> None:
    parser.add_argument("--no-record", action="store_true", help="do not append to the results file")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS_FILE, metavar="FILE",
                        help=f"append the {what} to FILE as JSON lines (default %(default)s)")


def _server(parser: Parser) -> None:
    parser.add_argument("--clickhouse-url", default=None, metavar="DSN",
                        help="a ClickHouse server (its clickpath_bench database is replaced); "
                             "default: a fresh embedded chdb directory")


def add_bench_commands(sub: Any) -> None:
    bench = add_command(sub, "bench", "benchmark the whole pipeline on the embedded broker (make bench)",
                        "Throughput with 1 and 2 workers, then latency at a steady rate, on a fresh"
                        f" embedded broker (about 11 minutes). {_WHERE}")
    bench.add_argument("--events", type=int, default=30_000, help="events per throughput run")
    bench.add_argument("--workers", default="1,2", help="worker counts to compare, e.g. 1,2")
    bench.add_argument("--latency-rate", type=float, default=1000.0, help="events/s, live")
    bench.add_argument("--latency-seconds", type=float, default=20.0)
    bench.add_argument("--latency-workers", type=int, default=1)
    _recorded(bench)
    bench.set_defaults(func=cmd_bench)

    ingress = add_command(sub, "bench-ingress", "benchmark the event API and the click tracker",
                          f"Events/s through the event API and clicks/s through the tracker. {_WHERE}")
    ingress.add_argument("--seconds", type=float, default=10.0, help="per phase")
    ingress.add_argument("--batch", type=int, default=500, help="events per event-API request")
    ingress.add_argument("--concurrency", type=int, default=4, help="event-API clients")
    ingress.add_argument("--click-rate", type=float, default=500.0, help="tracker requests/s")
    _recorded(ingress)
    ingress.set_defaults(func=cmd_bench_ingress)

    deliveries = add_command(sub, "bench-deliveries", "benchmark postback delivery to local receivers",
                             f"Postbacks/s from a backlog and at a live rate. {_WHERE}")
    deliveries.add_argument("--backlog", type=int, default=20_000, help="postbacks for the throughput run")
    deliveries.add_argument("--endpoints", type=int, default=10)
    deliveries.add_argument("--rate", type=float, default=200.0, help="postbacks/s, live")
    deliveries.add_argument("--seconds", type=float, default=15.0, help="per live run")
    _recorded(deliveries)
    deliveries.set_defaults(func=cmd_bench_deliveries)

    clickhouse = add_command(sub, "bench-clickhouse", "benchmark the funnel queries on big ClickHouse tables",
                             f"Fills ClickHouse to each size and times the funnel queries. {_WHERE}")
    clickhouse.add_argument("--sizes", default="10000000",
                            help="events to fill up to, measured at each, e.g. 10000000,100000000")
    clickhouse.add_argument("--chunk", type=int, default=1_000_000, help="events per bulk insert")
    clickhouse.add_argument("--repeats", type=int, default=30, help="runs of each funnel query")
    _server(clickhouse)
    _recorded(clickhouse, "results")
    clickhouse.set_defaults(func=cmd_bench_clickhouse)

    cohorts = add_command(sub, "bench-cohorts",
                          "benchmark the cohort and retention queries over many players",
                          f"Fills players and times the cohort and retention queries. {_WHERE}")
    cohorts.add_argument("--players", type=int, default=1_000_000, help="players to fill")
    cohorts.add_argument("--chunk", type=int, default=200_000, help="players per bulk insert")
    cohorts.add_argument("--repeats", type=int, default=3, help="runs of each query")
    cohorts.add_argument("--periods", type=int, default=12, help="retention periods (30 days)")
    _server(cohorts)
    _recorded(cohorts)
    cohorts.set_defaults(func=cmd_bench_cohorts)

    statements = add_command(sub, "bench-statements",
                             "benchmark a period's commission statements over many affiliates",
                             f"Fills a period's ledger and times the statements query. {_WHERE}")
    statements.add_argument("--affiliates", type=int, default=10_000, help="affiliates to fill")
    statements.add_argument("--players", type=int, default=1_000_000, help="players to fill")
    statements.add_argument("--chunk", type=int, default=100_000, help="entries per bulk insert")
    statements.add_argument("--repeats", type=int, default=3, help="runs of the query")
    _server(statements)
    _recorded(statements)
    statements.set_defaults(func=cmd_bench_statements)

    state = add_command(sub, "bench-state", "benchmark a long-lived player's state size and per-event cost",
                        f"One VIP player with many deposits and wagers: state size, cost per event. {_WHERE}")
    state.add_argument("--deposits", type=int, default=100_000, help="deposits of the VIP")
    state.add_argument("--wagers", type=int, default=100_000, help="wagers of the VIP")
    _recorded(state)
    state.set_defaults(func=cmd_bench_state)

    identity = add_command(sub, "bench-identity",
                           "benchmark the identity graph over many players with three devices each",
                           "Seeded players through the identity and identifier stages in memory:"
                           " persons, links, signals, capped identifiers, state size, merge cost;"
                           f" fails unless the graph is the generator's. {_WHERE}")
    identity.add_argument("--players", type=int, default=1_000_000, help="brand accounts to make")
    identity.add_argument("--chunk", type=int, default=50_000,
                          help="players whose state is held at once (memory, not the result)")
    identity.add_argument("--merges", type=int, default=1_000,
                          help="registrations timed in each merge-cost phase")
    _recorded(identity)
    identity.set_defaults(func=cmd_bench_identity)
