"""Produce ingress events from asyncio code and wait until the broker has acknowledged them.

The HTTP doors answer "accepted" only after acks=all: a background thread serves
confluent-kafka's delivery callbacks and resolves one future per record on the event loop, so
a request waits for its own records without blocking the others.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, Message

from clickpath.contracts.models import IngressEvent
from clickpath.contracts.serde import Codec, build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.infra.kafka import make_producer
from clickpath.infra.producer import route
from clickpath.settings import Settings


class AckedProducer:
    def __init__(self, settings: Settings, codec: Codec | None = None) -> None:
        self._codec = codec or build_codec(settings.schemas_dir, settings.schema_registry_url)
        # No linger: a request waits for its own acknowledgement, and lingering does not pay
        # at the tracker's rates. At 500 clicks/s on the embedded broker, linger.ms 1 made
        # the median ack 2.5 ms instead of 0.6 and saved no broker CPU (0.29 ms per click
        # either way; 5 ms of linger saved 0.1 ms). A record produced while others are in
        # flight still joins the next request's batch.
        self._producer = make_producer(
            settings,
            **{"linger.ms": 0, "message.timeout.ms": settings.ingress_ack_timeout_ms},
        )
        self._topics = {t: topic_name(settings, t) for t in Topic}
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="ingress-acks", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def send(self, events: Sequence[IngressEvent]) -> list[str | None]:
        """Produce `events`; per event None once acknowledged, or the broker's error."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[str | None]] = []
        for event in events:
            future: asyncio.Future[str | None] = loop.create_future()
            futures.append(future)
            topic, key = route(event)
            value = self._codec.encode(event)
            self._produce(self._topics[topic], key.encode(), value, self._resolver(loop, future))
        return list(await asyncio.gather(*futures))

    def _produce(self, topic: str, key: bytes, value: bytes, callback: Any) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=callback)
                return
            except BufferError:
                self._producer.poll(0.01)  # local queue full: let acknowledgements drain

    @staticmethod
    def _resolver(loop: asyncio.AbstractEventLoop, future: asyncio.Future[str | None]) -> Any:
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            result = None if err is None else err.str()
            loop.call_soon_threadsafe(_settle, future, result)

        return on_delivery

    def close(self, timeout_s: float = 10.0) -> None:
        self._producer.flush(timeout_s)
        self._stop.set()
        self._poller.join(timeout=1)


def _settle(future: asyncio.Future[str | None], result: str | None) -> None:
    if not future.done():
        future.set_result(result)
