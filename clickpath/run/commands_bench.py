"""The benchmark commands: `clickpath bench`, `bench-ingress`, `bench-deliveries`,
`bench-clickhouse`, `bench-state`, `bench-cohorts`, `bench-statements` and `bench-identity`."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from clickpath.settings import Settings


def cmd_bench(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.devtools.bench.run import BenchConfig, run_bench

    # Stop like Ctrl-C, so every phase's processes and the broker are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    cfg = BenchConfig(
        events=args.events, baseline_events=args.events, latency_rate=args.latency_rate,
        latency_seconds=args.latency_seconds,
        worker_counts=tuple(int(w) for w in args.workers.split(",")),
        latency_workers=args.latency_workers,
        results_file=None if args.no_record else args.results,
    )
    result = run_bench(cfg)
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict | list)}))


def cmd_bench_ingress(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.devtools.bench.ingress import IngressBenchConfig, run_ingress_bench

    run_ingress_bench(IngressBenchConfig(
        seconds=args.seconds, batch=args.batch, concurrency=args.concurrency,
        click_rate=args.click_rate, results_file=None if args.no_record else args.results,
    ))


def cmd_bench_deliveries(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.devtools.bench.deliveries import DeliveryBenchConfig, run_delivery_bench

    run_delivery_bench(DeliveryBenchConfig(
        backlog=args.backlog, endpoints=args.endpoints, rate=args.rate, seconds=args.seconds,
        results_file=None if args.no_record else args.results,
    ))


def cmd_bench_clickhouse(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.devtools.bench.clickhouse import ClickHouseBenchConfig, run_clickhouse_bench

    run_clickhouse_bench(ClickHouseBenchConfig(
        sizes=tuple(int(s) for s in args.sizes.split(",")), chunk=args.chunk,
        repeats=args.repeats, dsn=args.clickhouse_url,
        results_file=None if args.no_record else args.results,
    ))


def cmd_bench_state(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.devtools.bench.state import StateBenchConfig, run_state_bench

    run_state_bench(StateBenchConfig(
        deposits=args.deposits, wagers=args.wagers,
        results_file=None if args.no_record else args.results,
    ))


def cmd_bench_cohorts(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.devtools.bench.cohorts import CohortBenchConfig, run_cohort_bench

    run_cohort_bench(CohortBenchConfig(
        players=args.players, chunk=args.chunk, repeats=args.repeats, periods=args.periods,
        dsn=args.clickhouse_url, results_file=None if args.no_record else args.results,
    ))


def cmd_bench_statements(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.devtools.bench.statements import StatementsBenchConfig, run_statements_bench

    run_statements_bench(StatementsBenchConfig(
        affiliates=args.affiliates, players=args.players, chunk=args.chunk, repeats=args.repeats,
        dsn=args.clickhouse_url, results_file=None if args.no_record else args.results,
    ))


def cmd_bench_identity(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.devtools.bench.identity import (
        BenchMismatch,
        IdentityBenchConfig,
        run_identity_bench,
    )

    try:
        run_identity_bench(IdentityBenchConfig(
            players=args.players, chunk=args.chunk, merges=args.merges,
            results_file=None if args.no_record else args.results,
        ))
    except BenchMismatch as e:
        print(f"bench-identity: {e}", file=sys.stderr)
        raise SystemExit(1) from None
