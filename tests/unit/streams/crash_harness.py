"""A broker and a worker in process, for the crash-point tests (test_crash_points.py,
test_commission_crash_points.py).

The stages run through the real runtime (streams/runtime.py) on in-memory tables and a producer
with a landed prefix (streams/memory.py). The broker is one partition per topic, offsets list
positions, a commit per topic. A worker reads one topic's backlog as one batch, processes it,
flushes (changelogs, then outputs, with the flush's crash points) and commits. An armed point
raises `Killed`; before it does, each stage's changelog is flushed (`on_kill`), so a point after
a write means that write landed (`lands` can say the outputs sent so far land too, or instead:
the two producers are independent). What a kill leaves: the landed outputs are on their topics,
the rest is lost, and the next worker's tables are the kill's own store reopened or another
worker's rebuilt from the landed changelog.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from clickpath.contracts.models import Record
from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import Topic
from clickpath.infra.batching import events_in
from clickpath.infra.faults import on_kill
from clickpath.streams.memory import MemoryEvent, MemoryMessage, MemoryProducer, MemoryTable, flush
from clickpath.streams.runtime import Stage, StageRuntime

CODEC = build_codec(None, None)
NAMES = {t: t.value for t in Topic}
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # one clock for every run: outputs compare exactly


class Broker:
    """One partition per topic; offsets are list positions; a commit per topic."""

    def __init__(self) -> None:
        self.logs: dict[str, list[tuple[bytes | None, bytes]]] = defaultdict(list)
        self.committed: dict[str, int] = defaultdict(int)

    def produce(self, topic: Topic, key: str, record: Record) -> None:
        self.logs[topic.value].append((key.encode(), CODEC.encode(record)))

    def records(self, topic: Topic) -> list[Any]:
        """The events on `topic`, batch records unpacked (as the sinks read them)."""
        return [event for _, value in self.logs[topic.value] for event in events_in(CODEC, value)]


class Worker:
    """`stages` in one process, as a `clickpath worker` runs them."""

    def __init__(self, broker: Broker, stages: Sequence[Stage[Any]],
                 tables: dict[str, MemoryTable] | None = None, *,
                 clock: Callable[[], datetime] = lambda: NOW,
                 lands: Collection[str] = ("changelog",)) -> None:
        """`clock`: the processing time; `lands`: what a kill lands of what was sent before
        it, "changelog" (the tables') and/or "outputs"."""
        self.broker = broker
        self.stages = stages
        self.lands = lands
        self.tables = tables or {stage.name: MemoryTable() for stage in stages}
        self.producer = MemoryProducer()
        self._delivered = 0
        self.routes: dict[str, list[StageRuntime[Any]]] = defaultdict(list)
        for stage in stages:
            table = self.tables[stage.name]
            runtime = StageRuntime(stage, CODEC, NAMES, table, table, self.producer,
                                   clock=clock, partitions=1)
            for topic in runtime.input_topics:
                self.routes[topic].append(runtime)
            on_kill(f"{stage.name}.changelog",
                    table.flush if "changelog" in lands else lambda: None)
        on_kill("worker.outputs", self.producer.flush if "outputs" in lands else lambda: None)

    def step(self, topic: Topic) -> bool:
        """Read the topic's backlog as one batch, process it, flush, commit."""
        name = topic.value
        start = self.broker.committed[name]
        backlog = self.broker.logs[name][start:]
        if not backlog:
            return False
        events = [MemoryEvent(MemoryMessage(name, 0, start + i, key, value))
                  for i, (key, value) in enumerate(backlog)]
        for runtime in self.routes[name]:
            runtime.process_batch(events)
        flush(self.tables, self.producer)
        self.deliver()
        self.broker.committed[name] = start + len(backlog)
        return True

    def drain(self, order: Sequence[Topic]) -> None:
        """Read every topic in `order`, round after round, until nothing is left."""
        while any([self.step(t) for t in order]):
            pass

    def deliver(self) -> None:
        """Landed outputs are on their topics."""
        for topic, key, value in self.producer.sent[self._delivered:self.producer.landed]:
            self.broker.logs[topic].append((key, value))
        self._delivered = self.producer.landed

    def killed(self, clock: Callable[[], datetime] = lambda: NOW) -> Worker:
        """The worker is gone: what landed stays, the rest is lost; another worker takes over
        from the changelog (its processing time `clock`)."""
        self.deliver()
        self.producer.drop_unlanded()
        return Worker(self.broker, self.stages,
                      {name: t.recovered() for name, t in self.tables.items()},
                      clock=clock, lands=self.lands)

    def restarted_on_its_own_disk(self, clock: Callable[[], datetime] = lambda: NOW) -> Worker:
        """Killed and started again with its local stores as the kill left them."""
        self.deliver()
        self.producer.drop_unlanded()
        return Worker(self.broker, self.stages,
                      {name: t.reopened() for name, t in self.tables.items()},
                      clock=clock, lands=self.lands)
