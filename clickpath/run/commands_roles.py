"""`clickpath up`, `status`, and the commands `up` runs as its roles, one process each: worker,
sink, api, demo.

The roles are commands too so that a deployment can run each role on its own (one container
per role); `up` runs them under its supervisor with the names worker-<n>, sink-clickhouse,
sink-postbacks, api, demo-receiver and demo-traffic. Their arguments: cli_roles.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from clickpath.run.errors import CommandError
from clickpath.run.guards import arm_fault_hook, require_own_keys
from clickpath.settings import Settings


def cmd_up(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.run.up import UpOptions, run_up

    require_own_keys(settings, "up", demo=args.demo)
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


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.infra.logs import configure_logging
    from clickpath.infra.metrics import serve_metrics
    from clickpath.streams.app import run_worker

    require_own_keys(settings, "worker")
    arm_fault_hook("worker")
    configure_logging(settings.log_level, role=f"worker-{args.index}")
    serve_metrics(settings.metrics_port, settings.metrics_host)
    sys.argv = [sys.argv[0], "worker"]  # Faust's Worker reads argv; ours are consumed
    run_worker(settings, args.index)


def cmd_sink(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.infra.logs import configure_logging
    from clickpath.infra.metrics import serve_metrics

    require_own_keys(settings, "sink")
    arm_fault_hook(f"sink {args.kind}")
    if args.kind == "clickhouse":
        from clickpath.sinks.clickhouse.process import report_token

        try:
            report_token(settings)
        except ValueError as e:
            raise CommandError(f"`clickpath sink clickhouse` will not start: {e}") from None
    configure_logging(settings.log_level, role=f"sink-{args.kind}")
    serve_metrics(settings.metrics_port, settings.metrics_host)
    if args.kind == "clickhouse":
        from clickpath.sinks.clickhouse.process import run_clickhouse_sink

        run_clickhouse_sink(settings)
    else:
        from clickpath.sinks.delivery import run_delivery_engine

        run_delivery_engine(settings)


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.connectors.http_service import run_service
    from clickpath.infra.logs import configure_logging

    require_own_keys(settings, "api")
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
