"""When and how far the delivery engine commits its offsets.

A record read is settled once every delivery it caused has ended: delivered, dead-lettered,
suppressed, or parked on the retry topic (`OffsetTracker`). A commit point flushes the
producer first, so the attempts, dead letters and parked jobs made for the settled records
are on the broker before the offsets past those records are; then it commits, never past a
record whose deliveries have not all ended. A crash therefore replays only deliveries that
may not have ended, and a receiver drops the repeats by their stable ids.

Commit points: every `interval_s` by the engine's clock, when intake stops for back-pressure
(`max_pending` deliveries in memory), and when the engine stops.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from confluent_kafka import TopicPartition

from clickpath.infra.limits import Clock
from clickpath.infra.metrics import DELIVERIES_PENDING
from clickpath.sinks.delivery.lanes import Source
from clickpath.sinks.delivery.offsets import TP, OffsetTracker
from clickpath.sinks.delivery.ports import Consumer, Producer

log = structlog.get_logger(__name__)
STAGE = "delivery"


class Commits:
    def __init__(self, consumer: Consumer, producer: Producer, clock: Clock,
                 interval_s: float, max_pending: int) -> None:
        self.consumer, self.producer, self.clock = consumer, producer, clock
        self.interval_s, self.max_pending = interval_s, max_pending
        self.tracker = OffsetTracker()
        self.drained = asyncio.Event()  # set when the deliveries in memory fall to half the limit
        self._last = clock()
        self._revoked: list[TP] = []

    def read(self, source: Source, deliveries: int) -> None:
        """A record read that caused `deliveries` deliveries (0: settled at once)."""
        topic, partition, offset = source
        self.tracker.add((topic, partition), offset, deliveries)

    def settle(self, source: Source) -> None:
        """One delivery of the record at `source` ended."""
        topic, partition, offset = source
        self.tracker.settle((topic, partition), offset)
        if self.tracker.open_deliveries() < self.max_pending // 2:
            self.drained.set()

    def full(self) -> bool:
        """Whether intake should wait for the lanes: `max_pending` deliveries are in memory."""
        return self.tracker.open_deliveries() >= self.max_pending

    def due(self) -> bool:
        """Whether `interval_s` passed since the last commit point (or the clock stepped back)."""
        elapsed = self.clock() - self._last
        return elapsed >= self.interval_s or elapsed < 0

    def on_revoke(self, _consumer: object, partitions: list[TopicPartition]) -> None:
        """The consumer's rebalance callback: these partitions are someone else's now."""
        self._revoked.extend((p.topic, p.partition) for p in partitions)

    def forget_revoked(self) -> None:
        """Forget the partitions revoked since the last call (their new owner replays them)."""
        if self._revoked:
            self.tracker.revoke(self._revoked)
            self._revoked = []

    async def commit(self) -> None:
        """Flush what was produced for settled records, then commit past them."""
        self._last = self.clock()
        offsets = self.tracker.committable()
        if not offsets:
            return
        remaining = await asyncio.to_thread(self.producer.flush, 30)
        if remaining:
            log.warning("delivery_flush_incomplete", remaining=remaining)
            return
        await asyncio.to_thread(
            self.consumer.commit,
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
            asynchronous=False,
        )
        self.tracker.committed(offsets)
        DELIVERIES_PENDING.labels(STAGE).set(self.tracker.open_deliveries())

    async def wait_for_drain(self) -> None:
        """Back-pressure: commit what can be, then wait (at most `interval_s`) for the lanes
        to bring the deliveries in memory down to half the limit."""
        await self.commit()
        self.drained.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained.wait(), self.interval_s)
