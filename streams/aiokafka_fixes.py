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
   holds every fetch that long even when data is there (PLATFORM.md), which puts ~0.75 s of
   median latency on every Faust hop; the configured wait is used instead.
"""

from __future__ import annotations

import types
from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka_driver

_config = {"fetch_wait_ms": 1500}


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


def install_consumer_fixes(fetch_wait_ms: int) -> None:
    _config["fetch_wait_ms"] = fetch_wait_ms
    current = getattr(faust_aiokafka_driver.aiokafka, "AIOKafkaConsumer", None)
    if current is not FixedAIOKafkaConsumer:
        patched = types.ModuleType("aiokafka")
        patched.__dict__.update(aiokafka.__dict__)
        patched.AIOKafkaConsumer = FixedAIOKafkaConsumer
        faust_aiokafka_driver.aiokafka = patched
