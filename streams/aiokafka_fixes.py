"""Two fixes to the aiokafka consumer that faust-streaming builds, installed before it starts.

1. **Records lost after recovery.** After table recovery Faust calls `seek_to_committed()`
   to rewind stream partitions past whatever was prefetched meanwhile (and dropped). aiokafka
   only seeks when the committed offset is above 0, so a partition with no commit (or a
   commit of 0) keeps the prefetched position and those records are never processed. Seen
   when a worker is SIGKILLed before its first commit and another takes over: the new worker
   skipped every record already in the topic. Here such partitions rewind to the beginning,
   which `consumer_auto_offset_reset="earliest"` (what clickpath sets) would have chosen;
   the agents are idempotent, so re-reading is harmless.
2. **Fetch wait.** faust-streaming hard-codes `fetch_max_wait_ms=1500`. The embedded broker
   holds every fetch that long even when data is there (docs/topics.md), which puts ~0.75 s of
   median latency on every Faust hop; the configured wait is used instead.
3. **End offsets on the embedded broker.** Tansu answers ListOffsets(latest) with the start of
   the last batch + 1 when a batch holds several records (docs/topics.md), so table recovery
   stopped short of the changelog's end and lost updates. The high watermark a *fetch* returns
   is right, so on Tansu `end_offsets` fetches one record just below the listed offset and
   takes the high watermark from that response. Producers can then batch normally.
4. **Records dropped when the flow resumes** (faust-streaming's consumer). After a rebalance
   Faust seeks stream partitions to their committed offsets and then resumes the flow, which
   clears every agent's queue. When the flow was already running (an earlier recovery had
   resumed it), records fetched between the seek and that clear sit in the queues and are
   thrown away, yet Faust's "read offset" has moved past them, so they are never read again
   and their partition's commits stop at the first of them. Seen: 13 of 120 deposits sent
   while a restarted worker recovered were never processed. Here resuming the flow ends the
   batch being handed out and makes the next fetch seek back to the committed offsets (and
   reset the read offsets) first; the records handled twice are harmless, the agents being
   idempotent.
"""

from __future__ import annotations

import asyncio
import time
import types
import uuid
from collections.abc import Iterable
from typing import Any

import aiokafka
from confluent_kafka import Consumer, TopicPartition
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka_driver

_config: dict[str, Any] = {"fetch_wait_ms": 1500, "tansu_bootstrap": None}


class FixedAIOKafkaConsumer(aiokafka.AIOKafkaConsumer):
    def __init__(self, *topics: str, **kwargs: Any) -> None:
        kwargs["fetch_max_wait_ms"] = _config["fetch_wait_ms"]
        super().__init__(*topics, **kwargs)

    async def seek_to_committed(self, *partitions: Any) -> dict[Any, int | None]:
        committed = await super().seek_to_committed(*partitions)
        unseeked = [tp for tp, offset in committed.items() if not offset or offset <= 0]
        if unseeked:
            await self.seek_to_beginning(*unseeked)
        return committed

    async def end_offsets(self, partitions: Iterable[Any]) -> dict[Any, int]:
        listed = await super().end_offsets(partitions)
        bootstrap = _config["tansu_bootstrap"]
        if not bootstrap:
            return listed
        return await asyncio.to_thread(fetched_high_watermarks, bootstrap, listed)


def fetched_high_watermarks(bootstrap: str, listed: dict[Any, int]) -> dict[Any, int]:
    """End offsets from fetch responses: fetch the record before each listed end offset."""
    probe = {(tp.topic, tp.partition): tp for tp, offset in listed.items() if offset > 0}
    if not probe:
        return dict(listed)  # a partition with any record lists at least 1
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"clickpath-end-offsets-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 10,
        "max.partition.fetch.bytes": 1,  # one batch per partition is all it takes
    })
    result = dict(listed)
    try:
        consumer.assign([
            TopicPartition(topic, partition, listed[tp] - 1)
            for (topic, partition), tp in probe.items()
        ])
        deadline = time.monotonic() + 30
        while probe and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            topic, partition = msg.topic(), msg.partition()
            if topic is None or partition is None:
                continue
            tp = probe.pop((topic, partition), None)
            if tp is not None:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
                result[tp] = max(high, listed[tp])
        if probe:
            raise RuntimeError(f"no fetch answered for {sorted(probe)}: end offsets unknown")
    finally:
        consumer.close()
    return result


_original_resume_flow = faust_consumer.Consumer.resume_flow
_original_getmany = faust_consumer.Consumer.getmany


def _resume_flow(self: Any) -> None:
    # The flow-control resume just before this call cleared the agents' queues.
    self._clickpath_flow_epoch = getattr(self, "_clickpath_flow_epoch", 0) + 1
    self._clickpath_reseek = True
    _original_resume_flow(self)


async def _getmany(self: Any, timeout: float) -> Any:
    if getattr(self, "_clickpath_reseek", False):
        self._clickpath_reseek = False
        await self.perform_seek()  # back to the committed offsets, read offsets reset
    epoch = getattr(self, "_clickpath_flow_epoch", 0)
    async for tp, message in _original_getmany(self, timeout):
        if getattr(self, "_clickpath_flow_epoch", 0) != epoch:
            break  # the queues were cleared: the rest of this batch is read again
        yield tp, message


def install_consumer_fixes(fetch_wait_ms: int, tansu_bootstrap: str | None = None) -> None:
    """Patch the consumer faust-streaming builds; `tansu_bootstrap` turns on fix 3."""
    _config["fetch_wait_ms"] = fetch_wait_ms
    _config["tansu_bootstrap"] = tansu_bootstrap
    faust_consumer.Consumer.resume_flow = _resume_flow
    faust_consumer.Consumer.getmany = _getmany
    current = getattr(faust_aiokafka_driver.aiokafka, "AIOKafkaConsumer", None)
    if current is not FixedAIOKafkaConsumer:
        patched = types.ModuleType("aiokafka")
        patched.__dict__.update(aiokafka.__dict__)
        patched.AIOKafkaConsumer = FixedAIOKafkaConsumer
        faust_aiokafka_driver.aiokafka = patched
