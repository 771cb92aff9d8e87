"""The two identity stages in one process, for `clickpath bench-identity`: the real runtime and
codec over stores that keep what a worker's store keeps, without anything a test tool keeps.

clickpath/devtools/topology.py wires the same stages for tests, but it keeps every message it
ever carried and decodes every output to check it: right for a test, a few GB and double the
cost at a million players. Here each topic is a queue that forgets what was read (one
partition, offsets that only grow), the stage reads up to `batch_max` records a micro-batch as
a worker does (`agent_batch_max`), and a store keeps each key's value as the JSON bytes the
changelog carries (streams/changelog.py's `value_bytes`), so the bytes measured are the bytes
stored. Each stage's wall and CPU time is that of its `process_batch` calls alone.

A store can `forget` keys the caller knows no later record touches (a chunk's accounts): it
returns their bytes for measuring. A key read after it was forgotten would start a fresh state,
so the bench's counts (accounts, identifiers) would no longer equal the generator's.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from clickpath.contracts.models import CanonicalEvent
from clickpath.contracts.serde import Codec, build_codec
from clickpath.contracts.topics import SPECS, Topic
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.infra.batching import BatchEncoder, pack_partition
from clickpath.streams.changelog import value_bytes
from clickpath.streams.identifiers import identifier_stage
from clickpath.streams.identity import identity_stage
from clickpath.streams.memory import MemoryEvent, MemoryMessage
from clickpath.streams.runtime import Stage, StageRuntime

NAMES = {t: f"bench.{t.value}" for t in Topic}
INTERNAL = (Topic.CANONICAL, Topic.IDENTITY_SIGHTINGS, Topic.IDENTITY_INBOX)
CANONICAL_PER_RECORD = 50  # canonical events per batch record, as a player stage's micro-batch packs them


class BytesStore:
    """A stage's store: key -> the JSON bytes its changelog would carry."""

    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}
        self.writes = 0
        self.written_bytes = 0

    def get(self, key: str) -> Any:
        raw = self.rows.get(key)
        return None if raw is None else orjson.loads(raw)

    def put(self, key: str, value: Any, partition: int) -> None:
        raw = value_bytes(value)
        self.rows[key] = raw
        self.writes += 1
        self.written_bytes += len(raw)

    def forget(self, keep: Iterable[str] = ()) -> Iterator[tuple[str, bytes]]:
        """Every row but `keep`'s, removed from the store as it is handed out."""
        kept = set(keep)
        for key in [k for k in self.rows if k not in kept]:
            yield key, self.rows.pop(key)


@dataclass
class Cost:
    """What one stage spent in its `process_batch` calls."""

    records: int = 0  # records taken from its topics (items of batch records counted each)
    batches: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def per_1k(self) -> dict[str, float]:
        k = max(self.records, 1) / 1000
        return {"wall_ms": round(self.wall_s * 1000 / k, 2), "cpu_ms": round(self.cpu_s * 1000 / k, 2)}


@dataclass
class _Queue:
    items: deque[tuple[bytes, bytes, int]] = field(default_factory=deque)  # key, value, count
    offset: int = 0


class IdentityRunner:
    """A broker of queues and a worker running the identity and identifier stages."""

    def __init__(self, policy: IdentityPolicy, now: datetime, batch_max: int = 500,
                 codec: Codec | None = None) -> None:
        self.codec = codec or build_codec(None, None)
        self.batch_max = batch_max
        self.stores = {"identity": BytesStore(), "identifiers": BytesStore()}
        # By input topic: the identity stage's canonical events and inbox, the identifiers'
        # sightings (a micro-batch holds one topic's records).
        self.costs = {t: Cost() for t in INTERNAL}
        self.sent: Counter[str] = Counter()  # records the stages sent, by topic
        self.sent_bytes: Counter[str] = Counter()
        self._queues = {NAMES[t]: _Queue() for t in INTERNAL}
        self._encoder = BatchEncoder(self.codec)
        self._canonical_key = SPECS[Topic.CANONICAL].key.of
        stages: list[Stage[Any]] = [identity_stage(lambda: policy), identifier_stage(lambda: policy)]
        self._routes: dict[str, tuple[Topic, StageRuntime[Any]]] = {}
        for stage in stages:
            store = self.stores[stage.name]
            runtime = StageRuntime(stage, self.codec, NAMES, store, store, self,
                                   clock=lambda: now, partitions=1)
            for topic in stage.inputs:
                self._routes[NAMES[topic]] = (topic, runtime)

    def send_raw(self, topic: str, key: bytes | None, value: bytes, partition: int = -1) -> None:
        """The stages' producer: their inputs are queued, the rest counted."""
        self.sent[topic] += 1
        self.sent_bytes[topic] += len(value)
        queue = self._queues.get(topic)
        if queue is not None:
            queue.items.append((key or b"", value, 1))

    def produce_canonical(self, events: Sequence[CanonicalEvent]) -> None:
        """Canonical events as the player stage writes them: batch records of
        CANONICAL_PER_RECORD events, each item under its own key."""
        queue = self._queues[NAMES[Topic.CANONICAL]]
        for start in range(0, len(events), CANONICAL_PER_RECORD):
            group = events[start:start + CANONICAL_PER_RECORD]
            items = [(self._canonical_key(e), self.codec.encode(e)) for e in group]
            for record in pack_partition(NAMES[Topic.CANONICAL], 0, items, self._encoder):
                queue.items.append((record.key, record.value, len(record.members)))

    def drain(self) -> None:
        """Run the stages round after round, a micro-batch per topic each, until every queue
        is empty (what a stage sends is read in a later round)."""
        while any(self._step(name) for name in list(self._queues)):
            pass

    def _step(self, name: str) -> bool:
        queue = self._queues[name]
        if not queue.items:
            return False
        events: list[MemoryEvent] = []
        count = 0
        while queue.items and len(events) < self.batch_max:
            key, value, n = queue.items.popleft()
            events.append(MemoryEvent(MemoryMessage(name, 0, queue.offset, key, value)))
            queue.offset += 1
            count += n
        topic, runtime = self._routes[name]
        cost = self.costs[topic]
        wall, cpu = time.perf_counter(), time.process_time()
        runtime.process_batch(events)
        cost.wall_s += time.perf_counter() - wall
        cost.cpu_s += time.process_time() - cpu
        cost.records += count
        cost.batches += 1
        return True

    def snapshot(self) -> tuple[dict[Topic, Cost], Counter[str]]:
        """The costs and the records sent so far (to subtract from a later snapshot)."""
        costs = {k: Cost(c.records, c.batches, c.wall_s, c.cpu_s) for k, c in self.costs.items()}
        return costs, Counter(self.sent)
