"""When is the pipeline done? When every consumer group of the run has committed the end of
every partition it reads, and it stays so.

A stage commits its input only after its outputs are acknowledged (commit after flush,
docs/development.md), and the ClickHouse sink only after its inserts, so a pipeline whose groups
all sit at the end has nothing left in flight. The ends are the high watermarks of fetches
(ListOffsets is wrong on the embedded broker, docs/topics.md): a consumer of its own keeps
fetching every partition a group has committed. Two checks in a row must agree, so an output
produced just before a check (its watermark not fetched yet) cannot pass for quiet.
"""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from clickpath.infra.broker_offsets import committed_offsets
from clickpath.infra.kafka import admin_config, consumer_config
from clickpath.settings import Settings

Partition = tuple[str, int]


def behind(
    committed: dict[str, dict[Partition, int]], ends: dict[Partition, int | None]
) -> dict[str, dict[Partition, tuple[int, int | None]]]:
    """Per group, the partitions whose committed offset is short of the end (or whose end no
    fetch has told yet), as (committed, end)."""
    out: dict[str, dict[Partition, tuple[int, int | None]]] = {}
    for group, offsets in committed.items():
        for tp, offset in offsets.items():
            end = ends.get(tp)
            if end is None or offset < end:
                out.setdefault(group, {})[tp] = (offset, end)
    return out


class Idle:
    """`check()` is truthy once the run's groups (named by the topic prefix; at least
    `groups`) have all been at the end at two checks in a row, with the same offsets."""

    def __init__(self, settings: Settings, groups: int) -> None:
        self.prefix = settings.topic_prefix
        self.groups = groups
        self.admin = AdminClient(admin_config(settings))
        self.consumer = Consumer(consumer_config(
            settings, f"crash-idle-{uuid.uuid4().hex[:8]}", **{"fetch.wait.max.ms": 100},
        ))
        self.assigned: set[Partition] = set()
        self.last: Any = None
        self.seen: Any = None  # the last state seen, for the failure message

    def close(self) -> None:
        self.consumer.close()

    def _ends(self, partitions: set[Partition]) -> dict[Partition, int | None]:
        new = partitions - self.assigned
        if new:
            self.consumer.incremental_assign([TopicPartition(t, p, OFFSET_END) for t, p in new])
            self.assigned |= new
        self.consumer.consume(10_000, timeout=0.3)  # keeps the fetches (and watermarks) fresh
        ends: dict[Partition, int | None] = {}
        for tp in partitions:
            _, high = self.consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)
            ends[tp] = high if high >= 0 else None
        return ends

    def check(self) -> bool:
        committed = {
            group: {tp: o for tp, o in offsets.items() if tp[0].startswith(self.prefix)}
            for group, offsets in committed_offsets(self.admin).items()
            if group.startswith(self.prefix)
        }
        ends = self._ends({tp for offsets in committed.values() for tp in offsets})
        late = behind(committed, ends)
        state = (committed, ends)
        self.seen = {"groups": sorted(committed), "behind": late}
        quiet = len(committed) >= self.groups and not late
        previous, self.last = self.last, (state if quiet else None)
        return quiet and previous == state
