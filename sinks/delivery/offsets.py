"""Which offsets may be committed while deliveries finish out of order.

A record is settled when every delivery it caused has ended (delivered, dead-lettered, or
parked on the retry topic). The committed offset of a partition never passes its lowest
unsettled record, so a crash replays only what may not have been settled, and a slow endpoint
holds back at most the records that wait for it.
"""

from __future__ import annotations

from collections import defaultdict

TP = tuple[str, int]


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[TP, dict[int, int]] = defaultdict(dict)  # offset -> open deliveries
        self._next: dict[TP, int] = {}  # one past the highest offset seen
        self._committed: dict[TP, int] = {}
        self._open = 0

    def add(self, tp: TP, offset: int, deliveries: int) -> None:
        """A record read, causing `deliveries` deliveries (0: settled at once)."""
        if deliveries > 0:
            self._pending[tp][offset] = self._pending[tp].get(offset, 0) + deliveries
            self._open += deliveries
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)

    def settle(self, tp: TP, offset: int) -> None:
        """One delivery of the record at `offset` ended."""
        pending = self._pending.get(tp)
        if pending is None or offset not in pending:
            return  # its partition was revoked meanwhile
        pending[offset] -= 1
        self._open -= 1
        if pending[offset] == 0:
            del pending[offset]

    def open_deliveries(self) -> int:
        return self._open

    def committable(self) -> dict[TP, int]:
        """Per partition, the offset to commit, when it moved since the last call."""
        moved = {}
        for tp, nxt in self._next.items():
            pending = self._pending.get(tp)
            offset = min(pending) if pending else nxt
            if self._committed.get(tp) != offset:
                moved[tp] = offset
        return moved

    def committed(self, offsets: dict[TP, int]) -> None:
        self._committed.update(offsets)

    def revoke(self, tps: list[TP]) -> None:
        """Forget partitions another consumer now owns (it replays from their commit)."""
        for tp in tps:
            self._open -= sum(self._pending.pop(tp, {}).values())
            self._next.pop(tp, None)
            self._committed.pop(tp, None)
