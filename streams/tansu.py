"""Make Faust's aiokafka consumer answer quickly on brokers that wait out fetch.max.wait.

faust-streaming hard-codes `fetch_max_wait_ms=1500` in its aiokafka driver. The embedded
broker (Tansu) holds every fetch for that long even when data is there (PLATFORM.md), which
puts ~0.75 s of median latency on every Faust hop. This swaps in a consumer class that takes
the configured wait; on a real Kafka a short wait only costs a little idle CPU.
"""

from __future__ import annotations

import types

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka_driver

_state = {"fetch_wait_ms": 1500}


class _ConsumerWithConfiguredFetchWait(aiokafka.AIOKafkaConsumer):
    def __init__(self, *topics: str, **kwargs: object) -> None:
        kwargs["fetch_max_wait_ms"] = _state["fetch_wait_ms"]
        super().__init__(*topics, **kwargs)


def apply_tansu_workarounds(fetch_wait_ms: int) -> None:
    _state["fetch_wait_ms"] = fetch_wait_ms
    if getattr(faust_aiokafka_driver.aiokafka, "AIOKafkaConsumer", None) is not (
        _ConsumerWithConfiguredFetchWait
    ):
        patched = types.ModuleType("aiokafka")
        patched.__dict__.update(aiokafka.__dict__)
        patched.AIOKafkaConsumer = _ConsumerWithConfiguredFetchWait
        faust_aiokafka_driver.aiokafka = patched
