"""Consumer lag of a Faust agent, published on a timer, idle or not.

Lag from listed end offsets is wrong on the embedded broker (docs/topics.md); the high watermark
in each fetch response is right on every broker, and the consumer keeps the latest per
partition, so it costs nothing to read. The consumer keeps fetching while the stage is idle,
so the watermarks stay current without records arriving.

The gauge is set from a timer rather than when a record is read: set only then, a stage that
caught up kept the last value it showed mid-burst, and ClickpathStageStalled (lag > 0 and no
progress) fired on a quiet pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from clickpath.infra.metrics import CONSUMER_LAG

log = structlog.get_logger(__name__)

Partition = tuple[str, int]


def partition_lag(
    highwaters: Mapping[Partition, int | None],
    committed: Mapping[Partition, int | None],
    handled: Mapping[Partition, int],
) -> int:
    """Records behind the end of the given partitions, summed.

    All offsets are "next to read": a high watermark is one past the newest record, a committed
    offset and a handled position one past the last record processed. A partition with no
    high watermark yet (no fetch answered since it was assigned) counts as 0 until one comes.
    """
    total = 0
    for tp, high in highwaters.items():
        if high is None or high < 0:
            continue
        position = max(committed.get(tp) or 0, handled.get(tp, 0))
        total += max(high - position, 0)
    return total


class LagTracker:
    """The lag of one agent's input partitions, published as one gauge every `every_s`."""

    def __init__(self, app: Any, stage: str, topics: Iterable[str], every_s: float = 1.0) -> None:
        self._app = app
        self._stage = stage
        self._topics = frozenset(topics)
        self._handled: dict[Partition, int] = {}
        app.timer(every_s, name=f"consumer-lag-{stage}")(self._tick)

    def handled(self, messages: Iterable[Any]) -> None:
        """Note records the agent has processed (their outputs sent), ahead of the next commit."""
        for message in messages:
            tp = (message.tp.topic, message.tp.partition)
            self._handled[tp] = max(self._handled.get(tp, 0), message.offset + 1)

    def publish(self) -> int:
        """Set the gauge from this worker's assigned input partitions; returns the lag."""
        consumer = self._app.consumer
        try:
            assigned = [tp for tp in consumer.assignment() if tp.topic in self._topics]
        except Exception:  # the consumer is not started (or is stopping)
            return 0
        highwaters: dict[Partition, int | None] = {}
        committed: dict[Partition, int | None] = {}
        for tp in assigned:
            key = (tp.topic, tp.partition)
            try:
                highwaters[key] = consumer.highwater(tp)
            except Exception:  # revoked between the two calls
                continue
            # Faust's own record of the offsets it committed (or found committed on assignment).
            committed[key] = consumer._committed_offset.get(tp)
        for key in self._handled.keys() - highwaters.keys():
            del self._handled[key]  # revoked: another worker reports it now
        lag = partition_lag(highwaters, committed, self._handled)
        CONSUMER_LAG.labels(self._stage).set(lag)
        return lag

    async def _tick(self) -> None:
        try:
            self.publish()
        except Exception:  # a gauge must never stop the worker
            log.exception("consumer_lag_failed", stage=self._stage)
