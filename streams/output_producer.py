"""The agents' outputs go through a confluent-kafka producer, flushed before every commit.

Faust's own send costs about as much per record as consuming one (PLATFORM.md), and a player
event has three to five outputs, so sending them through Faust made each event several Faust
hops' worth of work. librdkafka batches them in C instead. At-least-once is kept: Faust
flushes its producer before it commits input offsets, and that flush is extended here to wait
until every output is acknowledged (acks=all) and to fail the commit if any was not, so a
crash can only replay inputs, never skip their outputs. Table changelogs stay with Faust.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from confluent_kafka import KafkaError, Message

from clickpath.kafka import make_producer
from clickpath.settings import Settings


class OutputsNotDelivered(RuntimeError):
    """The broker did not acknowledge some outputs; the input offsets must not be committed."""


class OutputProducer:
    def __init__(self, settings: Settings) -> None:
        self._producer = make_producer(settings, **{"linger.ms": settings.producer_linger_ms})
        self._errors: list[str] = []

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err.str()}")

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=self._on_delivery)
                return
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain

    def poll(self) -> None:
        self._producer.poll(0)

    def flush(self, timeout_s: float = 60.0) -> None:
        remaining = self._producer.flush(timeout_s)
        errors, self._errors = self._errors, []
        if remaining or errors:
            raise OutputsNotDelivered(
                f"{remaining} outputs unacknowledged, {len(errors)} failed: {errors[:3]}"
            )

    def flush_with_faust(self, app: faust.App) -> None:
        """Make Faust's pre-commit (and shutdown) flush wait for these outputs too."""
        producer: Any = app.producer
        faust_flush = producer.flush

        async def flush() -> None:
            await faust_flush()
            await asyncio.to_thread(self.flush)

        producer.flush = flush
