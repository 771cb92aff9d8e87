"""`clickpath bench`: the whole pipeline on the embedded broker, measured and verified.

Phases, each on fresh topics, one broker for all:
1. raw: a confluent-kafka consume -> produce loop (the machine's ceiling);
2. faust: a bare Faust passthrough agent with the pipeline's settings (the framework's ceiling);
3. pipeline with 1 and with 2 workers: a backlog of generated journeys is preloaded (as batch
   records, as the doors write them), then every role starts and the clock runs from the first
   processed event until every event is visible in ClickHouse and every postback has reached
   the receiver; the outputs are then verified against the generator's ground truth (lost,
   double-counted); CPU time of every pipeline process and the broker (from /proc) is counted
   over the same window, per 1,000 events;
   then the same workload with the best run's worker count, preloaded one event per record
   (`events_per_s_single`: what operators producing their own single records get);
4. latency: live traffic at a fixed rate (--latency-rate, then 300 events/s); p50/p95/p99 from
   the moment each event was produced (never its event time) to processed, to postback
   delivered and to visible in ClickHouse.
The table goes to stdout, the result is appended to tests/bench/results.jsonl, and the last
line printed is one JSON object for scripts.

What the phases share is in phases.py, the latency phase in latency.py, the table in table.py.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.devtools.bench import BENCH_MASTER_KEY, BENCH_PSEUDONYM_KEY
from clickpath.devtools.bench.latency import latency_not_measured, run_latency
from clickpath.devtools.bench.passthrough import raw_passthrough
from clickpath.devtools.bench.phases import BenchConfig, Phase, preload, wait_for_outputs
from clickpath.devtools.bench.results import commit, machine, record_result
from clickpath.devtools.bench.table import render_table
from clickpath.devtools.loadgen import LoadGenerator, Population
from clickpath.devtools.procs import WaitTimeout, peak_rss_mib, wait_until
from clickpath.devtools.verify import verify
from clickpath.infra.broker import EmbeddedBroker
from clickpath.infra.kafka import create_topics, make_producer
from clickpath.infra.reports import funnel_rows
from clickpath.settings import Settings

__all__ = ["BenchConfig", "run_bench"]


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
        def forwarded() -> bool:
            phase.sample_memory()
            return tail.count >= cfg.baseline_events

        wait_until(forwarded, cfg.baseline_events / 500 + 60, "the passthrough to forward every record")
        tail.stop()
        return {"events_per_s": round(tail.rate() or 0), "peak_rss_mib": phase.peaks}
    finally:
        phase.close()


def run_pipeline(
    base: Settings, workdir: Path, cfg: BenchConfig, workers: int, population: Population,
    broker_pid: int | None = None, batch_records: bool = True,
) -> dict[str, Any]:
    name = f"pipeline-{workers}w" + ("" if batch_records else "-single")
    phase = Phase(base, workdir, name, population)
    others = [broker_pid] if broker_pid else []
    cpu_at_first: list[float] = []
    try:
        gen = LoadGenerator(population, seed=cfg.seed + workers)
        preload(phase.settings, gen, cfg.events, batch_records)
        truth = gen.truth
        # CPU is counted over the same window as events/s: first processed event to done.
        tail = phase.tail(
            Topic.CANONICAL, on_first=lambda: cpu_at_first.append(phase.cpu_seconds(*others))
        )
        for i in range(workers):
            phase.start("worker", "--index", str(i))
        phase.start("sink", "clickhouse")
        phase.start("sink", "postbacks")
        stats = wait_for_outputs(
            phase.settings, truth, phase.receiver, cfg.events / 300 + 120, phase.sample_memory
        )
        finished = time.monotonic()
        cpu_s = phase.cpu_seconds(*others) - (cpu_at_first[0] if cpu_at_first else 0.0)
        tail.stop()
        elapsed = finished - (tail.first_at or finished)
        verdict = verify(truth, funnel_rows(phase.settings),
                         [r["path"] for r in phase.receiver.requests()])
        return {
            "workers": workers,
            "batch_records": batch_records,
            "sends": truth.sends,
            "unique_events": truth.unique_events,
            "postbacks": len(truth.postbacks),
            "events_per_s": round(truth.sends / elapsed) if elapsed > 0 else None,
            "processed_per_s": round(tail.rate() or 0),
            "cpu_ms_per_1k_events": round(cpu_s * 1e6 / truth.sends) if truth.sends else None,
            "clickhouse_rows": stats["rows_written"],
            "verdict": verdict.summary(),
            "peak_rss_mib": phase.peaks,
        }
    finally:
        phase.close()



def best_run(pipelines: list[dict[str, Any]]) -> dict[str, Any]:
    return max(pipelines, key=lambda p: p["events_per_s"] or 0)


def headline(
    pipelines: list[dict[str, Any]], passthrough_events_per_s: int,
    latency: dict[str, Any], latency_300: dict[str, Any], single: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The figures scripts read from the last line: the best pipeline run's throughput and CPU,
    the same workload one event per record (`single`), p99 latencies at 1,000 (or
    --latency-rate) and at 300 events/s, losses over every run."""
    best = best_run(pipelines)
    every = pipelines + ([single] if single else [])
    return {
        "events_per_s": best["events_per_s"],
        "events_per_s_single": single["events_per_s"] if single else None,
        "ratio": round(best["events_per_s"] / passthrough_events_per_s, 3)
        if best["events_per_s"] and passthrough_events_per_s else None,
        "p99_processed_ms": latency["processed_ms"]["p99"],
        "p99_postback_ms": latency["postback_ms"]["p99"],
        "p99_clickhouse_ms": latency["clickhouse_ms"]["p99"],
        "p99_processed_ms_300": latency_300["processed_ms"]["p99"],
        "p99_postback_ms_300": latency_300["postback_ms"]["p99"],
        "p99_clickhouse_ms_300": latency_300["clickhouse_ms"]["p99"],
        "cpu_ms_per_1k_events": best["cpu_ms_per_1k_events"],
        "lost": sum(p["verdict"]["lost"] + p["verdict"]["postbacks_missing"] for p in every),
        "double_counted": sum(
            p["verdict"]["double_counted"] + p["verdict"]["postbacks_double"] for p in every
        ),
    }


def live(
    base: Settings, workdir: Path, cfg: BenchConfig, population: Population,
    rate: float, seconds: float, console: Console,
) -> dict[str, Any]:
    console.print(f"[bold]latency[/] {rate:.0f} events/s live for {seconds:.0f} s…")
    try:
        latency = run_latency(base, workdir, cfg, population, rate, seconds)
    except (WaitTimeout, ValueError) as e:  # behind, or an output before its input: report it
        latency = latency_not_measured(rate, cfg.latency_workers, str(e))
    console.print(f"  {latency}")
    return latency


def run_bench(cfg: BenchConfig, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    population = Population.synthetic()
    workdir = Path(tempfile.mkdtemp(prefix="clickpath-bench-"))
    try:
        with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
            base = Settings(
                kafka_bootstrap_servers=broker.bootstrap, broker_compat="tansu",
                partitions=cfg.partitions, data_dir=workdir / "data",
                pseudonym_key=BENCH_PSEUDONYM_KEY, master_key=BENCH_MASTER_KEY, log_level="warning",
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
                pipelines.append(
                    run_pipeline(base, workdir, cfg, workers, population, broker.pid)
                )
                console.print(f"  {pipelines[-1]}")
            workers = best_run(pipelines)["workers"]
            console.print(f"[bold]pipeline[/] {workers} worker(s), one event per record…")
            single = run_pipeline(base, workdir, cfg, workers, population, broker.pid,
                                  batch_records=False)
            console.print(f"  {single}")
            latency = live(base, workdir, cfg, population, cfg.latency_rate,
                           cfg.latency_seconds, console)
            latency_300 = live(base, workdir, cfg, population, 300.0,
                               min(cfg.latency_seconds, cfg.latency_300_seconds), console)
            broker_rss = peak_rss_mib(broker.pid) if broker.pid else None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()},
        "raw_events_per_s": round(raw),
        "passthrough_events_per_s": faust_pt["events_per_s"],
        "pipelines": pipelines,
        "pipeline_single": single,
        "latency": latency,
        "latency_300": latency_300,
        "broker_peak_rss_mib": broker_rss,
        **headline(pipelines, faust_pt["events_per_s"], latency, latency_300, single),
    }
    console.print(render_table(result))
    record_result(cfg.results_file, result)
    return result


