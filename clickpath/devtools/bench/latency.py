"""The latency phase of `clickpath bench`: live traffic at a fixed rate through every role;
p50/p95/p99 from event time to processed, to postback delivered and to visible in ClickHouse.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from clickpath.contracts.models import CanonicalEvent
from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import Topic
from clickpath.devtools.bench.phases import BenchConfig, Phase, TopicTail, wait_for_outputs
from clickpath.devtools.demo import PostbackReceiver
from clickpath.devtools.loadgen import GroundTruth, LoadGenerator, Population
from clickpath.devtools.procs import wait_until
from clickpath.devtools.verify import parse_postback
from clickpath.infra.producer import EventProducer
from clickpath.settings import Settings

NO_QUANTILES: dict[str, float | None] = {"p50": None, "p95": None, "p99": None}


def quantiles_ms(values: list[float]) -> dict[str, float | None]:
    if len(values) < 2:
        return {"p50": values[0] if values else None, "p95": None, "p99": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


def postback_latencies(truth: GroundTruth, receiver: PostbackReceiver) -> list[float]:
    """Milliseconds from each required postback's event time to its arrival at the receiver."""
    out = []
    for r in receiver.requests():
        p = parse_postback(r["path"])
        at = truth.postback_event_times.get((p.affiliate_id, p.click_id, p.event))
        if at is not None:
            out.append((datetime.fromisoformat(r["at"]) - at).total_seconds() * 1000)
    return out


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
        warm_up(phase, producer, gen, tail)
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
            "postback_ms": quantiles_ms(postback_latencies(gen.truth, phase.receiver)),
            "clickhouse_ms": stats["written_latency_ms"],
            "max_backlog": backlog,
            "peak_rss_mib": phase.peaks,
        }
    finally:
        phase.close()


def warm_up(phase: Phase, producer: EventProducer, gen: LoadGenerator, tail: TopicTail) -> None:
    """One journey through every stage before the clock starts: no start-up cost in the numbers."""
    for event in gen.events(1):
        producer.send(event)
    producer.flush()
    wait_until(lambda: tail.count >= gen.truth.unique_events, 90, "the warm-up journey")
    wait_for_outputs(phase.settings, gen.truth, phase.receiver, 90)




def latency_not_measured(cfg: BenchConfig, error: str) -> dict[str, Any]:
    """The latency result when the pipeline could not catch up: reported, not fatal."""
    return {"rate": cfg.latency_rate, "workers": cfg.latency_workers,
            "processed_ms": dict(NO_QUANTILES), "postback_ms": dict(NO_QUANTILES),
            "clickhouse_ms": dict(NO_QUANTILES), "max_backlog": None, "peak_rss_mib": {},
            "error": error}
