"""In-memory stand-ins for what a worker gives the stage runtime: messages, a table with its
changelog, a producer.

They let `StageRuntime` run without Faust or a broker (unit tests, the in-memory topology
harness) and model what a crash leaves: the changelog and the producer each have a *landed*
prefix (what a flush acknowledged), and `recovered()` is the table another worker rebuilds from
the landed changelog. Values go through JSON as they do in the real store, so a value the real
changelog could not carry fails here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from clickpath.contracts.models import Record
from clickpath.contracts.serde import Codec
from clickpath.infra.batching import events_in
from clickpath.infra.faults import fault_point
from clickpath.streams.changelog import value_bytes


@dataclass(frozen=True)
class MemoryMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None


@dataclass(frozen=True)
class MemoryEvent:
    message: MemoryMessage


def _through_json(value: Any) -> Any:
    return orjson.loads(value_bytes(value))


class MemoryTable:
    """A stage's store and changelog in one, as streams/changelog.py keeps them: `put` appends
    to the changelog and keeps the value in an overlay that reads see first; `flush` lands what
    was appended; `persist` then applies the landed values to the store. The store (what a
    killed worker finds on its own disk) is never ahead of the landed changelog."""

    def __init__(self) -> None:
        self.store: dict[str, Any] = {}
        self.log: list[tuple[str, Any, int]] = []  # (key, value, partition), in write order
        self.landed = 0  # how many of `log` a flush has acknowledged
        self.persisted = 0  # how many of `log` the store holds
        self._overlay: dict[str, tuple[Any, int]] = {}  # key -> (value, its place in `log`)

    def get(self, key: str) -> Any:
        written = self._overlay.get(key)
        if written is not None:
            return _through_json(written[0])
        return self.store.get(key)

    def put(self, key: str, value: Any, partition: int) -> None:
        value = _through_json(value)
        self.log.append((key, value, partition))
        self._overlay[key] = (value, len(self.log))

    def flush(self) -> None:
        self.landed = len(self.log)

    def persist(self) -> None:
        """Apply the landed writes to the store (after the flush was acknowledged)."""
        for key, value, _ in self.log[self.persisted:self.landed]:
            self.store[key] = value
        self.persisted = self.landed
        for key in [k for k, (_, place) in self._overlay.items() if place <= self.landed]:
            del self._overlay[key]

    def reopened(self) -> MemoryTable:
        """The table as this worker finds it after a kill: its own store as it was, then the
        landed changelog after the store's persisted offset, read again."""
        table = MemoryTable()
        table.store = dict(self.store)
        table.log = self.log[: self.landed]
        table.persisted = self.persisted
        table.flush()
        table.persist()
        return table

    def recovered(self) -> MemoryTable:
        """The table as a worker without this one's local store rebuilds it: the landed
        changelog, replayed in order (the newest value of a key wins, as compaction keeps)."""
        table = MemoryTable()
        table.log = self.log[: self.landed]
        table.flush()
        table.persist()
        return table


@dataclass
class MemoryProducer:
    """Records sent, in order, and the partition each was sent to (-1: the key's); `landed`
    counts those a flush acknowledged."""

    sent: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    landed: int = 0

    def send_raw(self, topic: str, key: bytes | None, value: bytes, partition: int = -1) -> None:
        self.sent.append((topic, key, value))
        self.partitions.append(partition)

    def flush(self) -> None:
        self.landed = len(self.sent)

    def clear(self) -> None:
        """Forget everything sent (a test that looks at the next batch's outputs only)."""
        self.sent.clear()
        self.partitions.clear()
        self.landed = 0

    def drop_unlanded(self) -> None:
        """What a kill does to records queued but not acknowledged."""
        del self.sent[self.landed:]
        del self.partitions[self.landed:]

    def on(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        """The records sent to `topic`, as sent (a batch record is one)."""
        return [(key, value) for t, key, value in self.sent if t == topic]

    def events(self, codec: Codec, topic: str) -> list[Record]:
        """The events sent to `topic`, in order, batch records unpacked (what a reader sees)."""
        return [event for _, value in self.on(topic) for event in events_in(codec, value)]


def flush(tables: Mapping[str, MemoryTable], producer: MemoryProducer) -> None:
    """What a worker's pre-commit flush does (streams/output_producer.py), in its order and with
    its crash points: the changelogs land, then the outputs; the caller then commits."""
    for table in tables.values():
        table.flush()
    for stage in tables:
        fault_point(f"{stage}.in_flush")
    producer.flush()
    for table in tables.values():
        table.persist()
    for stage in tables:
        fault_point(f"{stage}.before_commit")
