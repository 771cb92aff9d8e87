"""Delivery benchmark: one delivery process (`clickpath sink postbacks`) and local receivers.

`clickpath bench-deliveries` starts the embedded broker, a receiver on loopback (HTTP/1.1
keep-alive) and the delivery process as in production, then measures
- throughput: a backlog of postbacks for `endpoints` affiliates, each with one endpoint,
  delivered as fast as the process can: deliveries/s from the first to the last arrival;
- latency: postbacks produced live at `rate`/s, stamped with their event time: p50/p99 from
  event time to arrival at the receiver;
- the same live run with one more endpoint that hangs (answers after `hang_s`, past the
  request timeout): the healthy endpoints' p50/p99, to show the dead one costs them nothing.
Counts are checked (every postback arrives once per endpoint). The throughput run also
reports CPU time per delivery, of the delivery process and of the receiver (which runs in this
process and shares the machine): on a busy machine those move less than deliveries/s do.
Printed as a table; the last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from clickpath.contracts.models import Postback, utcnow
from clickpath.contracts.topics import Topic
from clickpath.devtools.bench import BENCH_MASTER_KEY, BENCH_PSEUDONYM_KEY
from clickpath.devtools.bench.ingress import percentile
from clickpath.devtools.bench.results import DEFAULT_RESULTS_FILE, commit, machine, record_result
from clickpath.devtools.procs import RoleProcess, peak_rss_mib, wait_until
from clickpath.devtools.receivers import ScriptedReceiver
from clickpath.domain.endpoints import Endpoint
from clickpath.infra.broker import EmbeddedBroker
from clickpath.infra.kafka import create_topics
from clickpath.infra.producer import EventProducer
from clickpath.settings import Settings


@dataclass
class DeliveryBenchConfig:
    backlog: int = 20_000
    endpoints: int = 10
    rate: float = 200.0
    seconds: float = 15.0
    hang_s: float = 30.0
    results_file: Path | None = DEFAULT_RESULTS_FILE


def _postback(affiliate: str, n: int, run: str) -> Postback:
    return Postback(
        postback_id=f"{run}-{n}", affiliate_id=affiliate, campaign_id="c1", brand_id="bench",
        event="ftd", click_id=f"click-{n}", amount=Decimal("25.00"), currency="EUR",
        player_token=f"tok-{n}", occurred_at=utcnow(),
    )


class Phase:
    """Fresh topics, one delivery process, one receiver; `hang` adds an endpoint that hangs."""

    def __init__(self, base: Settings, workdir: Path, cfg: DeliveryBenchConfig, hang: bool) -> None:
        self.receiver = ScriptedReceiver(keep_alive=True, script=self._answer)
        self.hanging = hang
        self.warmed = 0
        endpoints = [
            Endpoint(endpoint_id=f"ep-{i}", affiliate_id=f"aff-{i}",
                     url=self.receiver.url + f"/pb/{i}?cid={{click_id}}&id={{postback_id}}",
                     events=["ftd"])
            for i in range(cfg.endpoints)
        ]
        if hang:
            endpoints.append(Endpoint(endpoint_id="hangs", affiliate_id="aff-0",
                                      url=self.receiver.url + "/hang?id={postback_id}", events=["ftd"]))
        self.cfg = cfg
        self.settings = base.with_overrides(
            topic_prefix=f"d{uuid.uuid4().hex[:8]}", endpoints=endpoints,
            egress_allow=["127.0.0.1/32"], delivery_rate_per_s=100_000, delivery_rate_burst=100_000,
            delivery_endpoint_concurrency=4, postback_timeout_s=5.0,
        )
        create_topics(self.settings)
        logs = workdir / self.settings.topic_prefix  # a log of its own: "assigned" is this run's
        logs.mkdir()
        self.role = RoleProcess(self.settings, "sink", "postbacks", log_dir=logs).start()

    def _answer(self, req: Any, _n: int) -> tuple[int, dict[str, str]] | float:
        return self.cfg.hang_s if req.path.startswith("/hang") else (200, {})

    def healthy(self) -> list[Any]:
        """Deliveries to the healthy endpoints, after the warm-up ones."""
        got = [r for r in self.receiver.requests() if not r.path.startswith("/hang")]
        return got[self.warmed:]

    def close(self) -> float | None:
        rss = peak_rss_mib(self.role.proc.pid) if self.role.proc else None
        self.role.stop()
        self.receiver.stop()
        return rss


def _at_least(items: list[Any], n: int) -> list[Any] | None:
    """`items` once there are `n` of them (for wait_until)."""
    return items if len(items) >= n else None


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process (Linux /proc); None when not readable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _per_delivery_ms(cpu_s: float | None, deliveries: int) -> float | None:
    return None if cpu_s is None or not deliveries else round(1000 * cpu_s / deliveries, 3)


def throughput(base: Settings, workdir: Path, cfg: DeliveryBenchConfig) -> dict[str, Any]:
    phase = Phase(base, workdir, cfg, hang=False)
    try:
        wait_until(lambda: _started(phase), 60, "the delivery process to get its partitions")
        pid = phase.role.pid
        cpu_before = process_cpu_s(pid)  # after start-up (imports, joining the group)
        run = uuid.uuid4().hex[:6]
        with EventProducer(phase.settings) as producer:
            for n in range(cfg.backlog):
                p = _postback(f"aff-{n % cfg.endpoints}", n, run)
                producer.send_record(Topic.POSTBACKS, p.affiliate_id, p)
        got = wait_until(lambda: _at_least(phase.healthy(), cfg.backlog), 600, f"{cfg.backlog} deliveries")
        cpu_after = process_cpu_s(pid)
        arrivals = sorted(r.at for r in got)
        span = arrivals[-1] - arrivals[0]
        ids = {r.path for r in got}
        spent = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        return {"deliveries": len(got), "distinct": len(ids),
                "deliveries_per_s": round(len(got) / span) if span > 0 else None,
                "delivery_cpu_ms_per_delivery": _per_delivery_ms(spent, len(got)),
                "receiver_cpu_ms_per_delivery": _per_delivery_ms(phase.receiver.cpu_s, len(got))}
    finally:
        rss = phase.close()
        print(f"  peak RSS of the delivery process: {rss} MiB")


def live(base: Settings, workdir: Path, cfg: DeliveryBenchConfig, hang: bool) -> dict[str, Any]:
    phase = Phase(base, workdir, cfg, hang=hang)
    try:
        wait_until(lambda: _started(phase), 60, "the delivery process to get its partitions")
        run = uuid.uuid4().hex[:6]
        total = int(cfg.rate * cfg.seconds)
        times: dict[str, float] = {}
        with EventProducer(phase.settings) as producer:
            warm_up(phase, cfg, producer)
            began = time.perf_counter()
            for n in range(total):
                pause = began + n / cfg.rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)  # pacing the offered load, not waiting for a condition
                p = _postback(f"aff-{n % cfg.endpoints}", n, run)
                times[p.postback_id] = p.occurred_at.timestamp()
                producer.send_record(Topic.POSTBACKS, p.affiliate_id, p)
        got = wait_until(lambda: _at_least(phase.healthy(), total), 120,
                         f"{total} deliveries")
        latencies = [(r.wall - times[r.path.rsplit("id=", 1)[1]]) * 1000 for r in got]
        hung = len(phase.receiver.requests()) - len(got)
        return {"rate": cfg.rate, "deliveries": len(got), "hanging_requests": hung,
                "p50_ms": _round(percentile(latencies, 50)), "p99_ms": _round(percentile(latencies, 99))}
    finally:
        phase.close()


def _round(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 1)


def warm_up(phase: Phase, cfg: DeliveryBenchConfig, producer: EventProducer) -> None:
    """One postback per endpoint, delivered before the clock starts: the producer's first send
    (metadata, producer id) and each endpoint's first connection cost about a second once,
    which is start-up, not the steady latency being measured. Not counted in the results."""
    for i in range(cfg.endpoints):
        p = _postback(f"aff-{i}", i, "warmup")
        producer.send_record(Topic.POSTBACKS, p.affiliate_id, p)
    producer.flush()
    wait_until(lambda: len(phase.healthy()) >= cfg.endpoints, 60, "the warm-up deliveries")
    phase.warmed = cfg.endpoints


def _started(phase: Phase) -> bool:
    return "delivery_assigned" in phase.role.log_path.read_text(errors="replace")


def run_delivery_bench(cfg: DeliveryBenchConfig, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    workdir = Path(tempfile.mkdtemp(prefix="clickpath-bench-deliveries-"))
    with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
        base = Settings(kafka_bootstrap_servers=broker.bootstrap, broker_compat="tansu",
                        data_dir=workdir / "data", log_level="info", pseudonym_key=BENCH_PSEUDONYM_KEY,
                        master_key=BENCH_MASTER_KEY)
        console.print(f"[bold]throughput[/]: {cfg.backlog} postbacks, {cfg.endpoints} endpoints…")
        thr = throughput(base, workdir, cfg)
        console.print(f"  {thr}")
        console.print(f"[bold]live[/] at {cfg.rate:g}/s…")
        steady = live(base, workdir, cfg, hang=False)
        console.print(f"  {steady}")
        console.print(f"[bold]live[/] at {cfg.rate:g}/s with one endpoint hanging {cfg.hang_s:g} s…")
        hanging = live(base, workdir, cfg, hang=True)
        console.print(f"  {hanging}")
    result: dict[str, Any] = {
        "kind": "deliveries", "at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "commit": commit(), "machine": machine(), "throughput": thr, "live": steady,
        "live_with_hanging_endpoint": hanging,
    }
    table = Table(title=f"clickpath delivery bench — {result['commit']} on {result['machine']['cpus']} CPUs")
    for column in ("measure", "value", "target"):
        table.add_column(column)
    table.add_row(f"deliveries/s, one process, {cfg.endpoints} endpoints",
                  f"{thr['deliveries_per_s']:,} ({thr['deliveries']} delivered, {thr['distinct']} distinct)",
                  "≥ 1,000/s")
    table.add_row("  CPU per delivery: delivery process / receiver",
                  f"{thr['delivery_cpu_ms_per_delivery']} / {thr['receiver_cpu_ms_per_delivery']} ms",
                  "≤ 1 ms / —")
    table.add_row(f"event → receiver at {cfg.rate:g}/s, p50 / p99",
                  f"{steady['p50_ms']} / {steady['p99_ms']} ms", "p99 < 250 ms")
    table.add_row("  same, one more endpoint hanging",
                  f"{hanging['p50_ms']} / {hanging['p99_ms']} ms "
                  f"({hanging['hanging_requests']} requests hung)", "unchanged")
    console.print(table)
    record_result(cfg.results_file, result)
    print(json.dumps({"deliveries_per_s": thr["deliveries_per_s"], "p99_ms": steady["p99_ms"],
                      "p99_ms_with_hanging_endpoint": hanging["p99_ms"]}))
    return result
