"""The shape every sink has: consume a batch, decode it, write it, then commit.

Offsets are committed only after the batch is written, so a crash replays the batch (at least
once) and the writers make a replay harmless. A write that fails for a passing reason (the
store down, a timeout) is retried with backoff and intake pauses meanwhile: back-pressure,
never a dropped record. A record that cannot be decoded, or that the store refuses whatever the
retries (`unwritable`, or a write raising `UnwritableError`: the batch is split in halves until
the refused records stand alone), goes to the dead-letter topic with its reason; the rest is
written and the offsets committed, so one bad record never stops a sink.

A batch record (`EventBatch`, docs/topics.md) is read as the events it carries: they are
written with the rest of the batch and its offset is committed after them, as a single
record's; a bad item is dead-lettered alone, with its `batch_index`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence

import structlog
from confluent_kafka import Consumer, Message, TopicPartition

from clickpath.contracts.batches import Unpacked, unpack
from clickpath.contracts.models import DeadLetter, Record, utcnow
from clickpath.contracts.serde import Codec, build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.domain.redact import redact
from clickpath.infra.batching import EventCounter
from clickpath.infra.faults import fault_point
from clickpath.infra.kafka import consumer_config, make_producer
from clickpath.infra.metrics import CONSUMER_LAG, DEAD_LETTERS, EVENTS, PROCESSING_TIME
from clickpath.settings import Settings

log = structlog.get_logger(__name__)

FIRST_TAKE = 10  # records in a gathering batch's first take: the next are sized by what it held


def dead_letter_of(msg: Message, stage: str, reason: str, item: Unpacked | None = None,
                   ) -> DeadLetter:
    """The dead-letter record of a consumed message: its bytes whole (or, for one item of a
    batch record, the item's key and bytes and its index), where it was, and why."""
    key, value, index = msg.key(), msg.value(), None
    if item is not None and item.index is not None:
        key, value, index = item.key, item.value, item.index
    return DeadLetter.of(
        key=key, value=value, topic=msg.topic() or "", partition=msg.partition() or 0,
        offset=msg.offset() or 0, stage=stage, reason=reason, at=utcnow(), batch_index=index,
    )


class SinkWriteError(RuntimeError):
    """A sink could not write a batch; the batch will be retried."""


class UnwritableError(SinkWriteError):
    """The store refused the batch for a reason retrying cannot cure (a value out of range, a
    type it cannot take): the sink bisects the batch and dead-letters the records refused."""


class BatchSink(ABC):
    stage: str = "sink"
    topics: tuple[Topic, ...] = ()
    # A sink whose writes cost per call (ClickHouse: a part per insert) gathers up to
    # `batch_rows` messages, or what came within `batch_seconds` of the first, per write;
    # None keeps one consume call (settings.sink_batch_size, sink_flush_ms) per batch.
    batch_rows: int | None = None
    batch_seconds: float | None = None

    def __init__(self, settings: Settings, codec: Codec | None = None) -> None:
        self.settings = settings
        self.codec = codec or build_codec(settings.schemas_dir, settings.schema_registry_url)
        self._consumer = Consumer(
            consumer_config(settings, f"sink-{self.stage}", **{
                "max.poll.interval.ms": 600000, "fetch.wait.max.ms": settings.sink_fetch_wait_ms,
            })
        )
        self._dlq = make_producer(settings)
        self._dlq_topic = topic_name(settings, Topic.DEAD_LETTER)
        self._stop = threading.Event()
        self._event_count = EventCounter(self.codec)

    @abstractmethod
    def write(self, records: Sequence[tuple[Message, Record]]) -> None:
        """Write a decoded batch; raise SinkWriteError to have it retried, UnwritableError
        when retrying cannot help (the batch is then split to find the records at fault).
        Must be safe to call again with records it already wrote (replays, bisection)."""

    def unwritable(self, record: Record) -> str | None:
        """Why the store can never take `record` (checked before writing), or None."""
        return None

    def close(self) -> None:
        """Release what `write` holds."""

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self._consumer.subscribe([topic_name(self.settings, t) for t in self.topics])
        log.info("sink_started", stage=self.stage, topics=[t.value for t in self.topics])
        try:
            while not self._stop.is_set():
                self.run_once()
        finally:
            self._consumer.close()
            self._dlq.flush(10)
            self.close()

    def _consume_batch(self) -> list[Message]:
        """Up to `batch_rows` events, a batch record counting the events it carries (so a
        backlog of batch records is not taken `batch_rows` records at a time)."""
        timeout = self.settings.sink_flush_ms / 1000
        limit = self.batch_rows or self.settings.sink_batch_size
        if self.batch_seconds is None:
            return self._consumer.consume(num_messages=limit, timeout=timeout)
        messages = self._consumer.consume(num_messages=min(limit, FIRST_TAKE), timeout=timeout)
        if not messages:
            return messages
        count = self._event_count
        events = sum(count(m.value()) for m in messages)
        deadline = time.monotonic() + self.batch_seconds
        while events < limit and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # As many records as the ones so far suggest the rest of `limit` takes.
            take = max(1, (limit - events) * len(messages) // events) if events else limit
            take = min(take, limit - events)  # a record holds one event or more
            more = self._consumer.consume(num_messages=take, timeout=min(left, timeout))
            messages += more
            events += sum(count(m.value()) for m in more)
        return messages

    def run_once(self) -> int:
        messages = self._consume_batch()
        if not messages:
            return 0
        started = time.perf_counter()
        good: list[tuple[Message, Record]] = []
        items: list[Unpacked] = []  # what each of `good` was read as (to dead-letter it alone)
        for msg in messages:
            if msg.error():
                log.warning("consume_error", stage=self.stage, error=str(msg.error()))
                continue
            for item in unpack(self.codec, msg.key(), msg.value()):
                record = item.record
                if record is None:
                    self.dead_letter(msg, item.error or "no record", item)
                    continue
                reason = self.unwritable(record)
                if reason is not None:
                    self.dead_letter(msg, reason, item)
                    continue
                good.append((msg, record))
                items.append(item)
        written = self._write_with_retry(good, items)
        if self._dlq_pending():
            self._dlq.flush(30)
        fault_point("sink.before_commit")  # written, not committed: the batch is replayed
        self._consumer.commit(asynchronous=False)
        EVENTS.labels(self.stage, "written").inc(written)
        PROCESSING_TIME.labels(self.stage).observe(time.perf_counter() - started)
        self._update_lag(messages)
        return len(messages)

    def _write_with_retry(self, records: list[tuple[Message, Record]],
                          items: Sequence[Unpacked] = ()) -> int:
        """Write `records`, retrying passing failures; the number written (the others were
        dead-lettered as unwritable). `items`: what each record was read as (a batch
        record's item is dead-lettered alone)."""
        delay = 0.2
        refused: set[int] = set()  # indexes already dead-lettered: a retry must not repeat them
        while True:
            try:
                self._write_or_isolate(list(enumerate(records)), refused, items)
                return len(records) - len(refused)
            except SinkWriteError as e:
                if self._stop.is_set():
                    raise
                log.warning("sink_write_failed", stage=self.stage, error=redact(str(e)),
                            retry_in_s=delay)
                time.sleep(delay)  # back-pressure: intake waits until the writer recovers
                delay = min(delay * 2, 30.0)

    def _write_or_isolate(
        self, indexed: list[tuple[int, tuple[Message, Record]]], refused: set[int],
        items: Sequence[Unpacked] = (),
    ) -> None:
        """Write the records; on UnwritableError split them in halves until each refused record
        stands alone, and dead-letter it. A passing failure (SinkWriteError) propagates."""
        todo = [(i, r) for i, r in indexed if i not in refused]
        if not todo:
            return
        try:
            self.write([r for _, r in todo])
        except UnwritableError as e:
            if len(todo) == 1:
                index, (msg, _) = todo[0]
                item = items[index] if index < len(items) else None
                self.dead_letter(msg, f"unwritable: {redact(str(e))}", item)
                refused.add(index)
                return
            log.warning("sink_batch_bisected", stage=self.stage, rows=len(todo), error=redact(str(e)))
            middle = len(todo) // 2
            self._write_or_isolate(todo[:middle], refused, items)
            self._write_or_isolate(todo[middle:], refused, items)

    def dead_letter(self, msg: Message, reason: str, item: Unpacked | None = None) -> None:
        """`msg` to the dead-letter topic whole, or only `item` of it (an item of a batch)."""
        record = dead_letter_of(msg, self.stage, reason, item)
        self._dlq.produce(self._dlq_topic, key=record.original_key, value=self.codec.encode(record))
        DEAD_LETTERS.labels(self.stage).inc()
        EVENTS.labels(self.stage, "dead_letter").inc()
        log.warning("dead_letter", stage=self.stage, topic=record.topic, reason=record.reason,
                    index=record.batch_index)

    def _dlq_pending(self) -> bool:
        return len(self._dlq) > 0

    def _update_lag(self, messages: list[Message]) -> None:
        latest: dict[tuple[str, int], int] = {}
        for msg in messages:
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            if not msg.error() and topic is not None and partition is not None and offset is not None:
                latest[(topic, partition)] = offset
        lag = 0
        for (topic, partition), offset in latest.items():
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), cached=True
            )
            if high >= 0:
                lag += max(high - offset - 1, 0)
        CONSUMER_LAG.labels(self.stage).set(lag)


def run_sink(sink: BatchSink) -> None:
    """Run a sink until SIGINT/SIGTERM, then stop it between batches."""
    import signal

    def _stop(*_: object) -> None:
        sink.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sink.run()
