"""The agents' outputs go through confluent-kafka, flushed before every commit.

Faust's own send costs about as much per record as consuming one (docs/benchmarks.md), and a player
event has three to five outputs, so sending them through Faust made each event several Faust
hops' worth of work; librdkafka batches them in C instead (the operator SDK's EventProducer).
At-least-once is kept: Faust flushes its producer before it commits input offsets, and that
flush is extended here to wait until every output is acknowledged (acks=all) and to fail the
commit if any was not, so a crash can only replay inputs, never skip their outputs. The
tables' changelog records (streams/changelog.py) are flushed the same way, before the outputs.

The flush passes two test-only crash points per stage (clickpath.infra.faults): `<stage>.in_flush`
(changelogs acknowledged, outputs not) and `<stage>.before_commit` (everything acknowledged, the
input offsets not committed). streams/memory.py's `commit` keeps the same order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import faust

from clickpath.contracts.serde import Codec
from clickpath.infra.faults import fault_point
from clickpath.infra.producer import EventProducer
from clickpath.settings import Settings
from clickpath.streams.changelog import ChangelogWriter


def output_producer(
    settings: Settings, codec: Codec, app: faust.App, changelogs: Sequence[ChangelogWriter] = ()
) -> EventProducer:
    """A producer whose outputs (and the tables' changelog records) Faust's pre-commit and
    shutdown flush waits for."""
    linger: dict[str, Any] = {"linger.ms": settings.producer_linger_ms}
    producer = EventProducer(settings, codec=codec, batch_records=False, **linger)  # one per record
    faust_producer: Any = app.producer
    faust_flush = faust_producer.flush

    async def flush() -> None:
        await faust_flush()
        for changelog in changelogs:
            await asyncio.to_thread(changelog.flush)  # raises NotAcknowledged: no commit
        for changelog in changelogs:
            fault_point(f"{changelog.name}.in_flush")
        await asyncio.to_thread(producer.flush, 60.0)
        for changelog in changelogs:
            changelog.persist_offsets()  # on the event loop, where the stores are used
        for changelog in changelogs:
            fault_point(f"{changelog.name}.before_commit")

    faust_producer.flush = flush
    return producer
