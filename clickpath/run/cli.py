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
from typing import TYPE_CHECKING

import httpx
from pydantic import ValidationError

from clickpath.devtools.bench.results import DEFAULT_RESULTS_FILE
from clickpath.settings import Settings

if TYPE_CHECKING:
    from clickpath.infra.endpoint_store import EndpointStore


def _die(message: str, code: int = 2) -> None:
    print(f"clickpath: {message}", file=sys.stderr)
    sys.exit(code)


def cmd_up(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.devtools.demo import demo_affiliates
    from clickpath.infra.broker import EmbeddedBroker, free_port, port_in_use
    from clickpath.infra.kafka import create_topics, wait_for_broker
    from clickpath.infra.logs import configure_logging
    from clickpath.run.status import StatusPrinter
    from clickpath.run.supervisor import Role, Supervisor, fresh_dir

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
                # The demo receiver is on loopback, which the SSRF guard refuses by default.
                env["CLICKPATH_EGRESS_ALLOW"] = json.dumps([*settings.egress_allow, "127.0.0.1/32"])
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
    from clickpath.infra.logs import configure_logging
    from clickpath.infra.metrics import serve_metrics
    from clickpath.streams.app import run_worker

    configure_logging(settings.log_level, role=f"worker-{args.index}")
    serve_metrics(settings.metrics_port)
    sys.argv = [sys.argv[0], "worker"]  # Faust's Worker reads argv; ours are consumed
    run_worker(settings, args.index)


def cmd_sink(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.infra.logs import configure_logging
    from clickpath.infra.metrics import serve_metrics

    configure_logging(settings.log_level, role=f"sink-{args.kind}")
    serve_metrics(settings.metrics_port)
    if args.kind == "clickhouse":
        from clickpath.sinks.clickhouse_sink import run_clickhouse_sink

        run_clickhouse_sink(settings)
    else:
        from clickpath.sinks.delivery import run_delivery_engine

        run_delivery_engine(settings)


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.connectors.http_service import run_service
    from clickpath.infra.logs import configure_logging

    configure_logging(settings.log_level, role="api")
    run_service(settings)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.infra.logs import configure_logging

    configure_logging(settings.log_level, role=f"demo-{args.kind}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.kind == "receiver":
        from clickpath.devtools.demo import PostbackReceiver

        log_path = settings.data_dir / "logs" / "demo-receiver.log"
        receiver = PostbackReceiver(log_path, port=args.port).start()
        stop.wait()
        receiver.stop()
        return
    from clickpath.devtools.demo import run_traffic
    from clickpath.infra.producer import EventProducer

    producer = EventProducer(settings)
    try:
        run_traffic(producer.send, args.rate, stop)
    finally:
        producer.flush()


def cmd_report(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.domain.report import render, summarize

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
        from clickpath.infra.reports import funnel_rows

        report = summarize(funnel_rows(settings, **filters))
    print(render(report, args.format), end="")


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


def cmd_topics(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.contracts.topics import SPECS
    from clickpath.infra.kafka import create_topics, wait_for_broker

    wait_for_broker(settings)
    created = create_topics(settings)
    for spec in SPECS.values():
        mark = "created" if spec.name(settings) in created else "exists"
        print(f"{spec.name(settings):45} {mark:8} key={spec.key}")


def cmd_import(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.connectors.importer import FileFormatError, ImportOptions, detect_format, run_cli

    try:
        fmt = args.format or detect_format(args.file)
    except FileFormatError as e:
        _die(str(e))
    try:
        options = ImportOptions(
            path=args.file, format=fmt, brand=args.brand, source=args.source, dry_run=args.dry_run,
            rejects_path=args.rejects, batch_lines=args.batch, rate=args.rate, ack_timeout_s=args.ack_timeout,
        )
    except ValueError as e:
        _die(str(e))
    sys.exit(run_cli(settings, options, as_json=args.json))


def cmd_keys(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.connectors.keys import KeyError_, KeyStore

    store = KeyStore(settings.key_store_path)
    if args.action == "create":
        try:
            key, secret = store.create(args.role, brand_id=args.brand, affiliate_id=args.affiliate)
        except ValueError as e:
            _die(str(e))
        print(secret)
        scope = key.brand_id or key.affiliate_id or "all"
        print(f"key {key.key_id}: role {key.role}, scope {scope}; shown once, store it now",
              file=sys.stderr)
    elif args.action == "revoke":
        if not args.key:
            _die("keys revoke needs the key id (or the key)")
        try:
            key = store.revoke(args.key)
        except KeyError_ as e:
            _die(str(e.args[0]))
        print(f"revoked {key.key_id} ({key.role}) at {key.revoked_at:%Y-%m-%d %H:%M:%S}Z")
    else:
        rows = [k.model_dump(mode="json", exclude={"digest"}) for k in store.list()]
        if args.format == "json":
            print(json.dumps(rows, indent=2))
        else:
            for k in rows:
                state = "revoked" if k["revoked_at"] else "active"
                scope = k["brand_id"] or k["affiliate_id"] or "-"
                print(f"{k['key_id']}  {k['role']:9} {scope:20} {state:8} created {k['created_at']}")


def cmd_links(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.connectors.catalogue import CatalogueStore
    from clickpath.domain.tracking import tracking_links

    catalogue = CatalogueStore(settings.catalogue_path, settings.affiliates).current()
    rows = tracking_links(catalogue, settings.tracker_url)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"clickpath tracking links ({settings.catalogue_path} and configuration)")
    for column in ("url", "affiliate", "campaign", "brand", "landing URL"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["url"], row["affiliate_id"], row["campaign_id"], row["brand_id"],
                      row["landing_url"])
    Console(width=200).print(table)
    if not rows:
        print("No campaigns yet: configure them (CLICKPATH_AFFILIATES) or add them with the admin API.")


def _endpoint_store(settings: Settings) -> EndpointStore:
    from clickpath.infra.endpoint_store import EndpointStore

    return EndpointStore.from_settings(settings)


def cmd_endpoints(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath postbacks|webhooks add|list|disable|enable|rotate-secret`."""
    from clickpath.domain.endpoints import Endpoint
    from clickpath.domain.signing import new_secret

    store = _endpoint_store(settings)
    kind = "postback" if args.command == "postbacks" else "webhook"
    if args.action == "list":
        rows = [e.model_dump(mode="json", exclude={"secret", "previous_secrets"})
                | {"signed": bool(e.secret)}
                for e in store.current().values() if e.kind == kind]
        if args.format == "json":
            print(json.dumps(rows, indent=2))
        for r in rows if args.format == "table" else []:
            state = "enabled" if r["enabled"] else f"DISABLED ({r['disabled_reason']})"
            owner = r["affiliate_id"] or r["brand_id"] or "all"
            print(f"{r['endpoint_id']:24} {owner:14} {r['method']:4} {','.join(r['events']):28} "
                  f"{state}\n    {r['url']}")
        return
    if not args.id:
        _die(f"{args.command} {args.action} needs an endpoint id")
    try:
        if args.action == "disable":
            e = store.disable(args.id, args.reason or "disabled by an operator")
        elif args.action == "enable":
            e = store.enable(args.id)
        elif args.action == "rotate-secret":
            current = store.current().get(args.id)
            if current is None:
                raise LookupError(f"no endpoint {args.id!r}")
            secret = new_secret()
            keep = [s for s in [current.secret, *current.previous_secrets] if s][:2]
            e = store.put(current.model_copy(update={"secret": secret, "previous_secrets": keep}))
            print(secret)
        else:
            if not args.url or not args.events:
                _die(f"{args.command} add needs --url and --events")
            secret = new_secret() if args.sign or kind == "webhook" else None
            e = store.put(Endpoint(
                endpoint_id=args.id, kind=kind, affiliate_id=args.affiliate, brand_id=args.brand,
                url=args.url, method=args.method or ("POST" if kind == "webhook" else "GET"),
                body=args.body, events=[x.strip() for x in args.events.split(",") if x.strip()],
                secret=secret,
            ))
            if secret:
                print(secret)
    except (LookupError, ValidationError, ValueError) as err:
        _die(str(err))
    print(f"{e.endpoint_id}: {'enabled' if e.enabled else 'disabled'}", file=sys.stderr)


def cmd_deliveries(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.sinks.delivery.replay import replay_dead_letters

    count = replay_dead_letters(settings, endpoint_id=args.endpoint, job_id=args.job)
    print(f"replayed {count} dead-lettered deliveries (same delivery ids: receivers drop repeats)")


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

    for name, what in (("postbacks", "affiliates' postback endpoints"),
                       ("webhooks", "webhook endpoints of operators and affiliate managers")):
        ep = sub.add_parser(name, help=f"add, list, disable, enable {what} (effective at once)")
        ep.add_argument("action", choices=["add", "list", "disable", "enable", "rotate-secret"])
        ep.add_argument("id", nargs="?", help="endpoint id, e.g. aff-1-main")
        ep.add_argument("--affiliate", default=None)
        ep.add_argument("--brand", default=None, help="webhooks: only this brand's events")
        ep.add_argument("--url", default=None, help="postbacks: a template with {click_id}... macros")
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
    keys.add_argument("--brand", default=None, help="operator keys: the brand it sends events for")
    keys.add_argument("--affiliate", default=None, help="affiliate keys: the affiliate it reads")
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
    args.func(settings, args)


if __name__ == "__main__":
    main()
