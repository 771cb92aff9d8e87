"""The latency phases of `clickpath bench`: live traffic at a fixed rate through every role;
p50/p95/p99 from the moment each event was produced to processed, to postback delivered and to
visible in ClickHouse.

Latency is measured from produce time, never from the event's `occurred_at`: the load
generator sends a journey's events at once with event times spread into the future, so
event-time latency read low, even negative (-229 ms p50 once). Operators keep event-time
latency in their metrics (clickpath_event_latency_seconds), where event times are in the past.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Collection, Hashable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

from clickpath.contracts.models import CanonicalEvent
from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import Topic
from clickpath.devtools.bench.phases import BenchConfig, Phase, TopicTail, wait_for_outputs
from clickpath.devtools.demo import PostbackReceiver
from clickpath.devtools.loadgen import LoadGenerator, Population
from clickpath.devtools.procs import wait_until
from clickpath.devtools.truth import GroundTruth
from clickpath.devtools.verify import parse_postback
from clickpath.infra.batching import events_in
from clickpath.infra.clickhouse import connect
from clickpath.infra.producer import EventProducer
from clickpath.settings import Settings

K = TypeVar("K", bound=Hashable)

NO_QUANTILES: dict[str, float | None] = {"p50": None, "p95": None, "p99": None}


def quantiles_ms(values: list[float]) -> dict[str, float | None]:
    if len(values) < 2:
        return {"p50": values[0] if values else None, "p95": None, "p99": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


def produced_at(sent: Mapping[str, float], needs: Iterable[Collection[str]]) -> float | None:
    """When the last input an output needs was produced: the output cannot exist before that.

    `needs` are groups of event ids, any one event of a group being enough (the first one sent
    counts); None when a group was never sent in the measured window (the warm-up's outputs).
    """
    latest: float | None = None
    for group in needs:
        times = [sent[e] for e in group if e in sent]
        if not times:
            return None
        latest = max(latest or min(times), min(times))
    return latest


def latencies_ms(produced: Mapping[K, float], arrived: Iterable[tuple[K, float]]) -> list[float]:
    """Milliseconds from each output's produce time to its first arrival (epoch seconds both).

    Outputs with no produce time are left out. Both ends are floored to the millisecond, as
    Kafka and ClickHouse store them, so a later arrival never reads negative; an arrival
    before its produce time means the matching or the clock is wrong, and raises.
    """
    first: dict[K, float] = {}
    for key, at in arrived:
        if key in produced:
            first[key] = min(at, first.get(key, at))
    out = []
    for key, at in first.items():
        ms = math.floor(at * 1000) - math.floor(produced[key] * 1000)
        if ms < 0:
            raise ValueError(f"{key!r} arrived {-ms} ms before it was produced")
        out.append(float(ms))
    return out


def postback_arrivals(receiver: PostbackReceiver) -> list[tuple[tuple[str, str, str], float]]:
    """Each request's (affiliate, click, event) and arrival time in epoch seconds."""
    out = []
    for r in receiver.requests():
        p = parse_postback(r["path"])
        out.append(((p.affiliate_id, p.click_id, p.event), datetime.fromisoformat(r["at"]).timestamp()))
    return out


def postback_produced_at(truth: GroundTruth, sent: Mapping[str, float]) -> dict[Any, float]:
    """Each expected postback's produce time: when the last event it needs was sent."""
    out = {}
    for key, needs in truth.postback_needs.items():
        if (at := produced_at(sent, needs)) is not None:
            out[key] = at
    return out


def clickhouse_written(settings: Settings) -> list[tuple[str, float]]:
    """(event_id, written_at in epoch seconds) of every row; the ClickHouse sink must be
    stopped first when ClickHouse is embedded (one process per directory)."""
    client = connect(settings)
    try:
        rows = client.query(
            f"SELECT event_id, toUnixTimestamp64Milli(written_at) "
            f"FROM {settings.clickhouse_database}.events"
        ).result_rows
    finally:
        client.close()
    return [(str(event_id), int(ms) / 1000) for event_id, ms in rows]


def record_time(msg: Message) -> float:
    """The record's Kafka timestamp in epoch seconds (set when it was produced), else now."""
    kind, ms = msg.timestamp()
    return time.time() if kind == TIMESTAMP_NOT_AVAILABLE else ms / 1000


def run_latency(
    base: Settings, workdir: Path, cfg: BenchConfig, population: Population,
    rate: float, seconds: float,
) -> dict[str, Any]:
    phase = Phase(base, workdir, f"latency-{rate:.0f}", population)
    processed: list[tuple[str, float]] = []  # canonical event id, when the worker produced it
    sent: dict[str, float] = {}  # event id -> when the bench first produced it
    codec = build_codec(phase.settings.schemas_dir, None)

    def on_canonical(msg: Message) -> None:
        produced_at = record_time(msg)  # a batch record's, for every event it carries
        for record in events_in(codec, msg.value(), skip_undecodable=True):
            if isinstance(record, CanonicalEvent):
                processed.append((record.event_id, produced_at))

    try:
        tail = phase.tail(Topic.CANONICAL, on_message=on_canonical)
        for i in range(cfg.latency_workers):
            phase.start("worker", "--index", str(i))
        clickhouse_sink = phase.start("sink", "clickhouse")
        phase.start("sink", "postbacks")
        gen = LoadGenerator(population, seed=cfg.seed)
        producer = EventProducer(phase.settings)
        warm_up(phase, producer, gen, tail)
        start_sends = gen.truth.sends
        backlog = 0
        interval, next_at = 1.0 / rate, time.monotonic()
        deadline = next_at + seconds
        for event in gen.events(stop=lambda: time.monotonic() >= deadline):
            sent.setdefault(event.event_id, time.time())
            producer.send(event)
            next_at += interval
            if (pause := next_at - time.monotonic()) > 0:
                time.sleep(pause)
            if gen.truth.sends % 200 == 0:
                backlog = max(backlog, gen.truth.sends - gen.truth.duplicates_sent - tail.count)
                phase.sample_memory()
        producer.flush()
        sent_rate = (gen.truth.sends - start_sends) / seconds
        wait_for_outputs(phase.settings, gen.truth, phase.receiver, 600, phase.sample_memory)
        tail.stop()
        phase.sample_memory()
        clickhouse_sink.stop()
        to_processed = latencies_ms(sent, processed)
        to_postback = latencies_ms(postback_produced_at(gen.truth, sent),
                                   postback_arrivals(phase.receiver))
        to_clickhouse = latencies_ms(sent, clickhouse_written(phase.settings))
        return {
            "rate": round(sent_rate),
            "workers": cfg.latency_workers,
            "processed_ms": quantiles_ms(to_processed),
            "postback_ms": quantiles_ms(to_postback),
            "clickhouse_ms": quantiles_ms(to_clickhouse),
            "samples": {"processed": len(to_processed), "postback": len(to_postback),
                        "clickhouse": len(to_clickhouse)},
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


def latency_not_measured(rate: float, workers: int, error: str) -> dict[str, Any]:
    """The latency result when the pipeline could not catch up: reported, not fatal."""
    return {"rate": rate, "workers": workers,
            "processed_ms": dict(NO_QUANTILES), "postback_ms": dict(NO_QUANTILES),
            "clickhouse_ms": dict(NO_QUANTILES), "max_backlog": None, "peak_rss_mib": {},
            "error": error}
