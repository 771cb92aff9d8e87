"""Operator SDK: produce clickpath events straight to Kafka with the right topic, key and schema.

    from clickpath.settings import Settings
    from clickpath.connectors.sdk import EventProducer

    with EventProducer(Settings()) as producer:
        producer.send(Deposit(event_id="dep-42", ...))

Clicks, and registrations that name a click, go to the clicks topic keyed by `click_id` (web
SDK page views to their own topic, by `click_id` too); every other event to the events topic
keyed `brand_id:player_id`, which is what the stream agents require. Every record is sent
with acks=all by the idempotent producer, and `flush()` raises `NotAcknowledged` if any record
was not acknowledged ("delivery" in clickpath means an HTTP postback or webhook, never a Kafka
acknowledgement).

By default `send()` writes batch records (docs/topics.md, 'Batch records'): events are held
per (topic, partition) and produced as one `EventBatch` record each, to the partition their
keys would get alone, when 256 KiB is reached, when the oldest has waited
`CLICKPATH_BATCH_LINGER_MS`, and on `flush()`. The stream agents pay their per-record cost once
per batch instead of once per event. `batch_records=False` produces one record per event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, Message

from clickpath.contracts.models import (
    Click,
    IngressEvent,
    PageView,
    PlayerEvent,
    Record,
    Registration,
    utcnow,
)
from clickpath.contracts.serde import Codec, build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.infra.batching import BatchEncoder, OutRecord, Packer, item_bytes
from clickpath.infra.kafka import make_producer
from clickpath.infra.partitioning import partition_for
from clickpath.settings import Settings


class NotAcknowledged(RuntimeError):
    """The broker did not acknowledge one or more records."""


def route(event: IngressEvent) -> tuple[Topic, str]:
    """The topic and key an ingress event must be produced with.

    A registration that names a click goes to the click's partition first: the click stage
    links it, decides attribution and forwards both to the player, so its postback is two
    agent hops away instead of three (docs/architecture.md, "Hops")."""
    if isinstance(event, Click):
        return Topic.CLICKS, event.click_id
    if isinstance(event, Registration) and event.click_id is not None:
        return Topic.CLICKS, event.click_id
    if isinstance(event, PageView):
        return Topic.PAGE_VIEWS, event.click_id
    if isinstance(event, PlayerEvent):
        return Topic.EVENTS, event.person_id
    raise TypeError(f"{type(event).__name__} is not an ingress event")


class EventProducer:
    def __init__(
        self, settings: Settings, codec: Codec | None = None,
        on_acked: Callable[[Message], None] | None = None, batch_records: bool = True,
        **kafka: Any,
    ) -> None:
        """`on_acked` sees each acknowledged record (topic, partition, offset) on `poll`/`flush`,
        in the thread that calls them. With `batch_records` one record may carry many events:
        it counts records, not events."""
        self._settings = settings
        self._on_acked = on_acked
        self._codec = codec or build_codec(settings.schemas_dir, settings.schema_registry_url)
        self._producer = make_producer(settings, **kafka)
        self._errors: list[str] = []
        self._topics = {t: topic_name(settings, t) for t in Topic}
        self._batch = batch_records
        self._partitions = settings.partitions  # every topic has them (kafka.create_topics)
        self._linger_s = settings.batch_linger_ms / 1000
        self._encoder = BatchEncoder(self._codec)
        self._held: dict[tuple[str, int], Packer] = {}
        # Guards `_held`; reentrant because an `on_acked` served while a full local queue is
        # drained may itself send.
        self._lock = threading.RLock()
        self._lingering: threading.Thread | None = None

    def _on_ack(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err.str()}")
        elif self._on_acked is not None:
            self._on_acked(msg)

    def send(self, event: IngressEvent, stamp_received: bool = True) -> None:
        if stamp_received and event.received_at is None:
            event = event.model_copy(update={"received_at": utcnow()})
        topic, key = route(event)
        value = self._codec.encode(event)
        if self._batch:
            self._hold(self._topics[topic], key, value)
        else:
            self.send_raw(self._topics[topic], key.encode(), value)

    def send_record(self, topic: Topic, key: str, record: Record) -> None:
        """One record, never batched (outputs, test fixtures)."""
        self.send_raw(self._topics[topic], key.encode(), self._codec.encode(record))

    def send_raw(self, topic: str, key: bytes | None, value: bytes, partition: int = -1) -> None:
        """One record as given, after the events held for its partition (per-key order).
        `partition`: -1 for the partitioner's choice by key; a batch record (the stage
        runtime's, streams/runtime.py) names the partition its items' keys get."""
        if self._batch and (key is not None or partition >= 0):
            where = partition if partition >= 0 else partition_for(key or b"", self._partitions)
            with self._lock:
                packer = self._held.get((topic, where))
                if packer is not None and packer.items:
                    self._produce_held(packer)
        self._produce(topic, key, value, partition)
        self._producer.poll(0)

    def send_all(self, events: Iterable[IngressEvent]) -> int:
        count = 0
        for event in events:
            self.send(event)
            count += 1
        return count

    def _hold(self, topic: str, key: str, value: bytes) -> None:
        nbytes = item_bytes(key, value)
        where = (topic, partition_for(key.encode(), self._partitions))
        with self._lock:
            packer = self._held.get(where)
            if packer is None:
                packer = self._held[where] = Packer(*where)
            elif packer.items and not packer.fits(nbytes):
                self._produce_held(packer)
            packer.add(key, value, nbytes)
            if self._lingering is None:
                self._lingering = threading.Thread(
                    target=self._linger, name="clickpath-batch-linger", daemon=True
                )
                self._lingering.start()
        self._producer.poll(0)

    def _produce_held(self, packer: Packer) -> None:
        """Produce what `packer` holds, serving acknowledgements while the local queue is full
        (the caller's thread: `on_acked` runs where the caller polls)."""
        record = packer.take(self._encoder)
        self._produce(record.topic, record.key, record.value, record.partition)

    def _produce(self, topic: str, key: bytes | None, value: bytes, partition: int = -1) -> None:
        """-1: the partitioner's choice (murmur2_random, the same as `partition_for`)."""
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, partition=partition, on_delivery=self._on_ack
                )
                return
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let acknowledgements drain

    def _linger(self) -> None:
        """Produce each partition's events once the oldest has waited the linger; ends when
        nothing is held (the next held event starts it again). It never polls, so `on_acked`
        never runs on this thread; when the local queue is full it leaves the events held for
        the sending thread, which drains the queue."""
        while True:
            with self._lock:
                now = time.monotonic()
                for packer in self._held.values():
                    if packer.items and now - packer.started_at >= self._linger_s:
                        record: OutRecord = packer.record(self._encoder)
                        try:
                            self._producer.produce(
                                record.topic, value=record.value, key=record.key,
                                partition=record.partition, on_delivery=self._on_ack,
                            )
                        except BufferError:
                            break
                        packer.clear()
                oldest = [p.started_at for p in self._held.values() if p.items]
                if not oldest:
                    self._lingering = None
                    return
                wait_s = min(oldest) + self._linger_s - now
            time.sleep(max(wait_s, 0.001))

    def flush(self, timeout_s: float = 30.0) -> None:
        with self._lock:
            for packer in self._held.values():
                if packer.items:
                    self._produce_held(packer)
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise NotAcknowledged(f"{remaining} records not acknowledged within {timeout_s}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise NotAcknowledged(f"{len(errors)} records failed: {errors[:3]}")

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
