"""`clickpath bench`: the whole pipeline on the embedded broker, measured and verified.

Phases, each on fresh topics, one broker for all:
1. raw: a confluent-kafka consume -> produce loop (the machine's ceiling);
2. faust: a bare Faust passthrough agent with the pipeline's settings (the framework's ceiling);
3. pipeline with 1 and with 2 workers: a backlog of generated journeys is preloaded, then every
   role starts and the clock runs from the first processed event until every event is visible
   in ClickHouse and every postback has reached the receiver; the outputs are then verified
   against the generator's ground truth (lost, double-counted);
4. latency: live traffic at a fixed rate; p50/p95/p99 from event time to processed, to postback
   delivered and to visible in ClickHouse.
The table goes to stdout, the result is appended to tests/bench/results.jsonl, and the last
line printed is one JSON object for scripts.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from rich.console import Console
from rich.table import Table

from clickpath.contracts.models import CanonicalEvent
from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.devtools.bench.passthrough import raw_passthrough
from clickpath.devtools.bench.results import DEFAULT_RESULTS_FILE, commit, machine, record_result
from clickpath.devtools.demo import PostbackReceiver
from clickpath.devtools.loadgen import GroundTruth, LoadGenerator, Population
from clickpath.devtools.procs import RoleProcess, WaitTimeout, peak_rss_mib, wait_until
from clickpath.devtools.verify import VERIFY_POSTBACK_PATH, parse_postback, verify
from clickpath.domain.catalogue import AffiliateConfig
from clickpath.infra.broker import EmbeddedBroker, free_port
from clickpath.infra.kafka import consumer_config, create_topics, make_producer
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import clickhouse_stats, funnel_rows
from clickpath.settings import Settings


@dataclass(frozen=True)
class BenchConfig:
    events: int = 30_000  # sends preloaded for each throughput run
    worker_counts: tuple[int, ...] = (1, 2)
    baseline_events: int = 30_000
    raw_events: int = 200_000
    latency_rate: float = 1000.0
    latency_seconds: float = 20.0
    latency_workers: int = 1
    partitions: int = 4
    seed: int = 11
    results_file: Path | None = DEFAULT_RESULTS_FILE


def quantiles_ms(values: list[float]) -> dict[str, float | None]:
    if len(values) < 2:
        return {"p50": values[0] if values else None, "p95": None, "p99": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


class TopicTail:
    """Counts (and optionally decodes) what lands on a topic, from its start, in a thread."""

    def __init__(self, settings: Settings, topic: str, on_record: Callable[[bytes], None] | None):
        self.count = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._on_record = on_record
        self._stop = threading.Event()
        self._consumer = Consumer(consumer_config(settings, f"bench-tail-{uuid.uuid4().hex[:8]}"))
        self._consumer.subscribe([topic])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(num_messages=2000, timeout=0.2):
                if msg.error():
                    continue
                now = time.monotonic()
                self.first_at = self.first_at or now
                self.last_at = now
                self.count += 1
                if self._on_record is not None:
                    self._on_record(msg.value())
        self._consumer.close()

    def rate(self) -> float | None:
        if self.first_at is None or self.last_at is None or self.last_at <= self.first_at:
            return None
        return (self.count - 1) / (self.last_at - self.first_at)

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(10)


class Phase:
    """One run on fresh topics, data and ClickHouse directories."""

    def __init__(self, base: Settings, workdir: Path, name: str, population: Population) -> None:
        self.dir = workdir / name
        self.dir.mkdir(parents=True)
        self.receiver = PostbackReceiver(self.dir / "receiver.jsonl").start()
        template = self.receiver.url + VERIFY_POSTBACK_PATH
        self.settings = base.with_overrides(
            topic_prefix=f"b{uuid.uuid4().hex[:8]}",
            data_dir=self.dir / "data",
            clickhouse_url=f"chdb://{self.dir / 'clickhouse'}",
            reports_url=f"http://127.0.0.1:{free_port()}",
            affiliates={a: AffiliateConfig(name=a, postback_url=template)
                        for a in population.affiliates},
            egress_allow=["127.0.0.1/32"],  # the bench's receiver
        )
        create_topics(self.settings)
        self.roles: list[RoleProcess] = []
        self.tails: list[TopicTail] = []
        self.peaks: dict[str, float] = {}

    def tail(self, topic: Topic, on_record: Callable[[bytes], None] | None = None) -> TopicTail:
        tail = TopicTail(self.settings, self.topic(topic), on_record)
        self.tails.append(tail)
        return tail

    def start(self, *args: str, module: str = "clickpath.run.cli") -> RoleProcess:
        role = RoleProcess(self.settings, *args, log_dir=self.dir, module=module).start()
        self.roles.append(role)
        return role

    def sample_memory(self) -> None:
        for role in self.roles:
            if role.running and (rss := peak_rss_mib(role.pid)) is not None:
                name = " ".join(role.args[:2]) if role.module == "clickpath.run.cli" else "passthrough"
                if name.startswith("worker"):
                    name = f"worker {role.args[-1]}"
                self.peaks[name] = max(self.peaks.get(name, 0.0), rss)

    def close(self) -> None:
        self.sample_memory()
        for tail in self.tails:
            tail.stop()
        for role in self.roles:
            role.stop()
        self.receiver.stop()

    def topic(self, t: Topic) -> str:
        return topic_name(self.settings, t)


def _preload(settings: Settings, gen: LoadGenerator, sends: int) -> None:
    with EventProducer(settings) as producer:
        for event in gen.events(sends):
            producer.send(event)


def _postback_latencies(truth: GroundTruth, receiver: PostbackReceiver) -> list[float]:
    out = []
    for r in receiver.requests():
        p = parse_postback(r["path"])
        at = truth.postback_event_times.get((p.affiliate_id, p.click_id, p.event))
        if at is not None:
            out.append((datetime.fromisoformat(r["at"]) - at).total_seconds() * 1000)
    return out


def wait_for_outputs(
    settings: Settings,
    truth: GroundTruth,
    receiver: PostbackReceiver,
    timeout_s: float,
    on_tick: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Wait until every event is in ClickHouse and every postback was received; the stats.

    On timeout the error says how far each got.
    """
    progress: dict[str, int] = {}

    def done() -> dict[str, Any] | None:
        on_tick()
        try:
            stats = clickhouse_stats(settings)
        except Exception:
            return None  # the sink is still starting
        progress["written"] = sum(stats["events_by_type"].values())
        progress["postbacks"] = received_required(truth, receiver)
        if progress["written"] >= truth.unique_events and progress["postbacks"] >= len(
            truth.postbacks
        ):
            return stats
        return None

    try:
        return wait_until(done, timeout_s, "every event in ClickHouse and every postback",
                          every_s=1.0)
    except WaitTimeout as e:
        raise WaitTimeout(
            f"{e}: {progress} of {truth.unique_events} events and {len(truth.postbacks)}"
            " postbacks"
        ) from None


def received_required(truth: GroundTruth, receiver: PostbackReceiver) -> int:
    """How many of the postbacks that must arrive have arrived (optional ones not counted)."""
    got = set()
    for r in receiver.requests():
        p = parse_postback(r["path"])
        got.add((p.affiliate_id, p.click_id, p.event))
    return len(got & truth.postbacks)


def run_raw(base: Settings, cfg: BenchConfig, payloads: list[bytes]) -> float:
    s = base.with_overrides(topic_prefix=f"raw{uuid.uuid4().hex[:6]}")
    create_topics(s)
    src, dst = topic_name(s, Topic.EVENTS), topic_name(s, Topic.CANONICAL)
    producer = make_producer(s)
    for i in range(cfg.raw_events):
        while True:
            try:
                producer.produce(src, value=payloads[i % len(payloads)])
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    return raw_passthrough(s, src, dst, cfg.raw_events)


def run_faust_passthrough(
    base: Settings, workdir: Path, cfg: BenchConfig, payloads: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    phase = Phase(base, workdir, "faust-passthrough", Population(brands=(), affiliates={}))
    try:
        src, dst = phase.topic(Topic.EVENTS), phase.topic(Topic.CANONICAL)
        producer = make_producer(phase.settings)
        for i in range(cfg.baseline_events):
            key, value = payloads[i % len(payloads)]
            producer.produce(src, key=key, value=value)
            if i % 10_000 == 0:
                producer.poll(0)
        producer.flush(60)
        tail = phase.tail(Topic.CANONICAL)
        phase.start(src, dst, module="clickpath.devtools.bench.passthrough")
        wait_until(lambda: tail.count >= cfg.baseline_events or phase.sample_memory(),
                   cfg.baseline_events / 500 + 60, "the passthrough to forward every record")
        tail.stop()
        return {"events_per_s": round(tail.rate() or 0), "peak_rss_mib": phase.peaks}
    finally:
        phase.close()


def run_pipeline(
    base: Settings, workdir: Path, cfg: BenchConfig, workers: int, population: Population
) -> dict[str, Any]:
    phase = Phase(base, workdir, f"pipeline-{workers}w", population)
    try:
        gen = LoadGenerator(population, seed=cfg.seed + workers)
        _preload(phase.settings, gen, cfg.events)
        truth = gen.truth
        tail = phase.tail(Topic.CANONICAL)
        for i in range(workers):
            phase.start("worker", "--index", str(i))
        phase.start("sink", "clickhouse")
        phase.start("sink", "postbacks")
        stats = wait_for_outputs(
            phase.settings, truth, phase.receiver, cfg.events / 300 + 120, phase.sample_memory
        )
        finished = time.monotonic()
        tail.stop()
        elapsed = finished - (tail.first_at or finished)
        verdict = verify(truth, funnel_rows(phase.settings),
                         [r["path"] for r in phase.receiver.requests()])
        return {
            "workers": workers,
            "sends": truth.sends,
            "unique_events": truth.unique_events,
            "postbacks": len(truth.postbacks),
            "events_per_s": round(truth.sends / elapsed) if elapsed > 0 else None,
            "processed_per_s": round(tail.rate() or 0),
            "clickhouse_rows": stats["rows_written"],
            "verdict": verdict.summary(),
            "peak_rss_mib": phase.peaks,
        }
    finally:
        phase.close()


def run_latency(
    base: Settings, workdir: Path, cfg: BenchConfig, population: Population
) -> dict[str, Any]:
    phase = Phase(base, workdir, "latency", population)
    processed_ms: list[float] = []
    codec = build_codec(phase.settings.schemas_dir, None)

    def on_canonical(value: bytes) -> None:
        record = codec.decode(value)
        if isinstance(record, CanonicalEvent):
            processed_ms.append(
                (record.processed_at - record.occurred_at).total_seconds() * 1000
            )

    try:
        tail = phase.tail(Topic.CANONICAL, on_canonical)
        for i in range(cfg.latency_workers):
            phase.start("worker", "--index", str(i))
        phase.start("sink", "clickhouse")
        phase.start("sink", "postbacks")
        gen = LoadGenerator(population, seed=cfg.seed)
        producer = EventProducer(phase.settings)
        # Warm up: one journey through every stage before the clock starts.
        _warm_up(phase, producer, gen, tail)
        processed_ms.clear()
        start_sends = gen.truth.sends
        backlog = 0
        interval, next_at = 1.0 / cfg.latency_rate, time.monotonic()
        deadline = next_at + cfg.latency_seconds
        for event in gen.events(stop=lambda: time.monotonic() >= deadline):
            producer.send(event)
            next_at += interval
            if (pause := next_at - time.monotonic()) > 0:
                time.sleep(pause)
            if gen.truth.sends % 200 == 0:
                backlog = max(backlog, gen.truth.sends - gen.truth.duplicates_sent - tail.count)
                phase.sample_memory()
        producer.flush()
        sent_rate = (gen.truth.sends - start_sends) / cfg.latency_seconds
        stats = wait_for_outputs(
            phase.settings, gen.truth, phase.receiver, 600, phase.sample_memory
        )
        tail.stop()
        return {
            "rate": round(sent_rate),
            "workers": cfg.latency_workers,
            "processed_ms": quantiles_ms(processed_ms),
            "postback_ms": quantiles_ms(_postback_latencies(gen.truth, phase.receiver)),
            "clickhouse_ms": stats["written_latency_ms"],
            "max_backlog": backlog,
            "peak_rss_mib": phase.peaks,
        }
    finally:
        phase.close()


def _warm_up(phase: Phase, producer: EventProducer, gen: LoadGenerator, tail: TopicTail) -> None:
    for event in gen.events(1):
        producer.send(event)
    producer.flush()
    wait_until(lambda: tail.count >= gen.truth.unique_events, 90, "the warm-up journey")
    wait_for_outputs(phase.settings, gen.truth, phase.receiver, 90)


def run_bench(cfg: BenchConfig, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    population = Population.synthetic()
    workdir = Path(tempfile.mkdtemp(prefix="clickpath-bench-"))
    try:
        with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
            base = Settings(
                kafka_bootstrap_servers=broker.bootstrap, broker_compat="tansu",
                partitions=cfg.partitions, data_dir=workdir / "data",
                pseudonym_key="bench-key", log_level="warning",
            )
            codec = build_codec(base.schemas_dir, None)
            sample = LoadGenerator(population, seed=cfg.seed)
            payloads = []
            for e in sample.events(2000):
                payloads.append((e.brand_id.encode(), codec.encode(e)))
            console.print("[bold]raw[/] confluent-kafka consume→produce…")
            raw = run_raw(base, cfg, [v for _, v in payloads])
            console.print("[bold]faust[/] bare passthrough agent…")
            faust_pt = run_faust_passthrough(base, workdir, cfg, payloads)
            console.print(f"  {raw:,.0f} ev/s; {faust_pt['events_per_s']:,} ev/s")
            pipelines = []
            for workers in cfg.worker_counts:
                console.print(f"[bold]pipeline[/] {workers} worker(s), {cfg.events} events…")
                pipelines.append(run_pipeline(base, workdir, cfg, workers, population))
                console.print(f"  {pipelines[-1]}")
            console.print(f"[bold]latency[/] {cfg.latency_rate:.0f} events/s live…")
            try:
                latency = run_latency(base, workdir, cfg, population)
            except WaitTimeout as e:  # it could not catch up: report that, keep the rest
                none = {"p50": None, "p95": None, "p99": None}
                latency = {"rate": cfg.latency_rate, "workers": cfg.latency_workers,
                           "processed_ms": none, "postback_ms": none, "clickhouse_ms": none,
                           "max_backlog": None, "peak_rss_mib": {}, "error": str(e)}
            console.print(f"  {latency}")
            broker_rss = peak_rss_mib(broker.pid) if broker.pid else None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    best = max(pipelines, key=lambda p: p["events_per_s"] or 0)
    result = {
        "at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()},
        "raw_events_per_s": round(raw),
        "passthrough_events_per_s": faust_pt["events_per_s"],
        "pipelines": pipelines,
        "latency": latency,
        "broker_peak_rss_mib": broker_rss,
        "events_per_s": best["events_per_s"],
        "ratio": round(best["events_per_s"] / faust_pt["events_per_s"], 3)
        if faust_pt["events_per_s"] else None,
        "p99_processed_ms": latency["processed_ms"]["p99"],
        "p99_postback_ms": latency["postback_ms"]["p99"],
        "p99_clickhouse_ms": latency["clickhouse_ms"]["p99"],
        "lost": sum(p["verdict"]["lost"] + p["verdict"]["postbacks_missing"] for p in pipelines),
        "double_counted": sum(
            p["verdict"]["double_counted"] + p["verdict"]["postbacks_double"] for p in pipelines
        ),
    }
    console.print(render_table(result))
    record_result(cfg.results_file, result)
    return result


def render_table(r: dict[str, Any]) -> Table:
    table = Table(title=f"clickpath bench — {r['commit']} on {r['machine']['cpus']} CPUs")
    for col in ("measure", "value", "target"):
        table.add_column(col)

    def ms(q: dict[str, Any]) -> str:
        return " / ".join("-" if q.get(k) is None else f"{q[k]:.0f}" for k in ("p50", "p95", "p99"))

    table.add_row("raw confluent-kafka passthrough", f"{r['raw_events_per_s']:,} ev/s", "")
    table.add_row("bare Faust passthrough", f"{r['passthrough_events_per_s']:,} ev/s", "")
    for p in r["pipelines"]:
        v = p["verdict"]
        table.add_row(
            f"pipeline end to end, {p['workers']} worker(s)",
            f"{p['events_per_s']:,} ev/s (agents {p['processed_per_s']:,} ev/s); "
            f"lost {v['lost']}, double {v['double_counted']}, postbacks missing "
            f"{v['postbacks_missing']}",
            "≥ 5,000 ev/s, 0 lost, 0 double",
        )
        mem = ", ".join(f"{k} {v:.0f}" for k, v in sorted(p["peak_rss_mib"].items()))
        table.add_row(f"  peak RSS MiB, {p['workers']} worker(s)", mem, "")
    table.add_row("ratio to bare Faust", f"{r['ratio']}", "≥ 0.6")
    lat = r["latency"]
    table.add_row(f"latency at {lat['rate']} ev/s: processed p50/p95/p99",
                  f"{ms(lat['processed_ms'])} ms", "")
    table.add_row("  event → postback delivered", f"{ms(lat['postback_ms'])} ms", "p99 < 250 ms")
    table.add_row("  event → visible in ClickHouse", f"{ms(lat['clickhouse_ms'])} ms", "p99 < 2,000 ms")
    table.add_row("  max backlog (events)", f"{lat['max_backlog'] or 0:,}", lat.get("error", ""))
    table.add_row("broker peak RSS", f"{r['broker_peak_rss_mib'] or 0:.0f} MiB", "")
    return table
