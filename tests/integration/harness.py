"""Helpers for integration tests: role processes (clickpath.procs) and reading topics."""

from __future__ import annotations

import time

from confluent_kafka import Consumer

from clickpath.kafka import consumer_config
from clickpath.procs import RoleProcess, wait_until
from clickpath.serde import Codec
from clickpath.settings import Settings
from clickpath.topics import Topic, topic_name

__all__ = ["RoleProcess", "read_topic", "wait_until"]


def read_topic(settings: Settings, codec: Codec, topic: Topic, expect: int, timeout_s: float = 30,
               require: bool = True):
    """Read `expect` records from the start of a topic (fails if they do not come, if `require`)."""
    consumer = Consumer(consumer_config(settings, f"test-reader-{time.time_ns()}"))
    consumer.subscribe([topic_name(settings, topic)])
    got = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(got) < expect and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                got.append((msg, codec.decode(msg.value())))
    finally:
        consumer.close()
    assert len(got) >= expect or not require, f"expected {expect} records on {topic.value}, got {len(got)}"
    return got
