"""Consumer lag of a Faust agent, from the high watermarks its own fetches return.

Lag from listed end offsets is wrong on the embedded broker (PLATFORM.md); the high watermark
in each fetch response is right on every broker, and the consumer keeps the latest per
partition, so it costs nothing to read.
"""

from __future__ import annotations

import time
from typing import Any

from clickpath.infra.metrics import CONSUMER_LAG


class LagTracker:
    """Per-partition lag of the records an agent reads, published as one gauge every second."""

    def __init__(self, app: Any, stage: str, every_s: float = 1.0) -> None:
        self._app = app
        self._stage = stage
        self._every_s = every_s
        self._lag: dict[tuple[str, int], int] = {}
        self._next = 0.0

    def observe(self, message: Any) -> None:
        tp = message.tp
        try:
            high = self._app.consumer.highwater(tp)
        except Exception:  # not assigned any more, or no fetch yet
            return
        if high is not None and high >= 0:
            self._lag[(tp.topic, tp.partition)] = max(high - message.offset - 1, 0)
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self._every_s
            CONSUMER_LAG.labels(self._stage).set(sum(self._lag.values()))
