"""The `clickpath` command: `up` runs everything; the other commands run one role or ask it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import date
from pathlib import Path

import httpx
from pydantic import ValidationError

from clickpath.settings import Settings


def _die(message: str, code: int = 2) -> None:
    print(f"clickpath: {message}", file=sys.stderr)
    sys.exit(code)


def cmd_up(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.broker import EmbeddedBroker, free_port, port_in_use
    from clickpath.demo import demo_affiliates
    from clickpath.kafka import create_topics, wait_for_broker
    from clickpath.logs import configure_logging
    from clickpath.status import StatusPrinter
    from clickpath.supervisor import Role, Supervisor, fresh_dir

    configure_logging(settings.log_level, role="supervisor")
    if port_in_use(settings.http_host, settings.http_port):
        _die(
            f"{settings.http_host}:{settings.http_port} is already in use (another `clickpath up`?)."
            " Stop it, or set CLICKPATH_HTTP_PORT to another port."
        )
    data_dir = settings.data_dir.resolve()
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["CLICKPATH_DATA_DIR"] = str(data_dir)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(fresh_dir(data_dir / "metrics"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = env["PROMETHEUS_MULTIPROC_DIR"]

    broker = None
    if settings.embedded_broker:
        broker = EmbeddedBroker(log_path=log_dir / "broker.log").start()
        env["CLICKPATH_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
        env["CLICKPATH_BROKER_COMPAT"] = "tansu"
        # The embedded broker starts empty, so local table state from an earlier run is stale.
        for stale in data_dir.glob("worker-*"):
            fresh_dir(stale)
        settings = settings.with_overrides(
            kafka_bootstrap_servers=broker.bootstrap, broker_compat="tansu"
        )
    try:
        wait_for_broker(settings)
        created = create_topics(settings)
        roles = [
            Role(f"worker-{i}", ["worker", "--index", str(i)]) for i in range(settings.workers)
        ]
        roles += [Role("sink-clickhouse", ["sink", "clickhouse"])]
        roles += [Role("sink-postbacks", ["sink", "postbacks"]), Role("api", ["api"])]
        if settings.clickhouse_embedded:
            env["CLICKPATH_REPORTS_URL"] = f"http://127.0.0.1:{free_port()}"
        receiver_log = log_dir / "demo-receiver.log"
        if args.demo:
            receiver_port = free_port()
            if not settings.affiliates:
                affiliates = demo_affiliates(f"http://127.0.0.1:{receiver_port}")
                env["CLICKPATH_AFFILIATES"] = json.dumps(
                    {k: v.model_dump() for k, v in affiliates.items()}
                )
            roles += [
                Role("demo-receiver", ["demo", "receiver", "--port", str(receiver_port)]),
                Role("demo-traffic", ["demo", "traffic", "--rate", str(args.rate)]),
            ]
        supervisor = Supervisor(roles, env, log_dir)
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        supervisor.start_all()
        try:
            _print_banner(settings, log_dir, created, receiver_log if args.demo else None)
            status = StatusPrinter(interval_s=args.status_every)
            while not stop.wait(0.5):
                supervisor.check()
                if broker is not None and not broker.running:
                    print("clickpath: the embedded broker died; stopping.", file=sys.stderr)
                    break
                status.maybe_print()
        finally:
            print("\nclickpath: stopping...", flush=True)
            supervisor.stop_all()
    finally:
        if broker is not None:
            broker.stop()
    print("clickpath: stopped.", flush=True)


def _print_banner(
    settings: Settings, log_dir: Path, created: list[str], receiver_log: Path | None
) -> None:
    lines = [
        "clickpath is up.",
        f"  Kafka:        {settings.kafka_bootstrap_servers}"
        + (" (embedded, in memory)" if settings.tansu_compat else ""),
        f"  ClickHouse:   {settings.clickhouse_dsn}",
        f"  Service:      {settings.service_url}  (/healthz, /metrics, /v1/reports/funnel)",
        "  Report:       clickpath report            (in another terminal)",
        f"  Logs:         {log_dir}/<role>.log",
    ]
    if receiver_log:
        lines.append(f"  Postbacks:    {receiver_log}  (demo affiliates' receiver)")
    if created:
        lines.append(f"  Topics made:  {len(created)} ({settings.partitions} partitions each)")
    lines.append("Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.logs import configure_logging
    from clickpath.metrics import serve_metrics
    from streams.app import run_worker

    configure_logging(settings.log_level, role=f"worker-{args.index}")
    serve_metrics(settings.metrics_port)
    sys.argv = [sys.argv[0], "worker"]  # Faust's Worker reads argv; ours are consumed
    run_worker(settings, args.index)


def cmd_sink(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.logs import configure_logging
    from clickpath.metrics import serve_metrics

    configure_logging(settings.log_level, role=f"sink-{args.kind}")
    serve_metrics(settings.metrics_port)
    if args.kind == "clickhouse":
        from sinks.clickhouse_sink import run_clickhouse_sink

        run_clickhouse_sink(settings)
    else:
        from sinks.postbacks import run_postback_sink

        run_postback_sink(settings)


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.logs import configure_logging
    from connectors.http_service import run_service

    configure_logging(settings.log_level, role="api")
    run_service(settings)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.logs import configure_logging

    configure_logging(settings.log_level, role=f"demo-{args.kind}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.kind == "receiver":
        from clickpath.demo import PostbackReceiver

        log_path = settings.data_dir / "logs" / "demo-receiver.log"
        receiver = PostbackReceiver(log_path, port=args.port).start()
        stop.wait()
        receiver.stop()
        return
    from clickpath.demo import run_traffic
    from connectors.producer import EventProducer

    producer = EventProducer(settings)
    try:
        run_traffic(producer.send, args.rate, stop)
    finally:
        producer.flush()


def cmd_report(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.report import render, summarize

    filters = {"brand_id": args.brand, "since": args.since, "until": args.until}
    if settings.clickhouse_embedded:
        # Only the running pipeline may open the embedded ClickHouse: ask its service.
        url = f"{settings.service_url}/v1/reports/funnel"
        params = {k: str(v) for k, v in filters.items() if v is not None}
        try:
            response = httpx.get(url, params=params, timeout=30)
        except httpx.HTTPError as e:
            _die(f"cannot reach the clickpath service at {url} ({e}); is `clickpath up` running?", 1)
        if response.status_code != 200:
            _die(f"{url} answered {response.status_code}: {response.text}", 1)
        report = response.json()
    else:
        from connectors.http_service import funnel_rows

        report = summarize(funnel_rows(settings, **filters))
    print(render(report, args.format), end="")


def cmd_bench(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.bench.run import BenchConfig, run_bench

    # Stop like Ctrl-C, so every phase's processes and the broker are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    cfg = BenchConfig(
        events=args.events, baseline_events=args.events, latency_rate=args.latency_rate,
        latency_seconds=args.latency_seconds,
        worker_counts=tuple(int(w) for w in args.workers.split(",")),
        latency_workers=args.latency_workers,
        results_file=None if args.no_record else BenchConfig.results_file,
    )
    result = run_bench(cfg)
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict | list)}))


def cmd_topics(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.kafka import create_topics, wait_for_broker
    from clickpath.topics import SPECS

    wait_for_broker(settings)
    created = create_topics(settings)
    for spec in SPECS.values():
        mark = "created" if spec.name(settings) in created else "exists"
        print(f"{spec.name(settings):45} {mark:8} key={spec.key}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clickpath", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole pipeline (embedded broker and ClickHouse by default)")
    up.add_argument("--demo", action="store_true", help="also play demo traffic and receive postbacks")
    up.add_argument("--rate", type=float, default=50.0, help="demo events per second")
    up.add_argument("--status-every", type=float, default=10.0, help="seconds between status lines")
    up.set_defaults(func=cmd_up)

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

    report = sub.add_parser("report", help="funnel KPIs by affiliate and campaign")
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")
    report.add_argument("--brand", default=None)
    report.add_argument("--since", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    report.add_argument("--until", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    report.set_defaults(func=cmd_report)

    bench = sub.add_parser("bench", help="benchmark the whole pipeline on the embedded broker")
    bench.add_argument("--events", type=int, default=30_000, help="events per throughput run")
    bench.add_argument("--workers", default="1,2", help="worker counts to compare, e.g. 1,2")
    bench.add_argument("--latency-rate", type=float, default=1000.0, help="events/s, live")
    bench.add_argument("--latency-seconds", type=float, default=20.0)
    bench.add_argument("--latency-workers", type=int, default=1)
    bench.add_argument("--no-record", action="store_true", help="do not append to the results file")
    bench.set_defaults(func=cmd_bench)

    topics = sub.add_parser("topics", help="create every topic with its partition count")
    topics.set_defaults(func=cmd_topics)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except (ValidationError, FileNotFoundError, ValueError) as e:
        _die(f"invalid settings: {e}")
    args.func(settings, args)


if __name__ == "__main__":
    main()
