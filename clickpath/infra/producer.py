"""Operator SDK: produce clickpath events straight to Kafka with the right topic, key and schema.

    from clickpath.settings import Settings
    from clickpath.connectors.sdk import EventProducer

    with EventProducer(Settings()) as producer:
        producer.send(Deposit(event_id="dep-42", ...))

Clicks, and registrations that name a click, go to the clicks topic keyed by `click_id` (web
SDK page views to their own topic, by `click_id` too); every other event to the events topic
keyed `brand_id:player_id`, which is what the stream agents require. Every record is sent
with acks=all by the idempotent producer, and `flush()` raises `NotAcknowledged` if any record
was not acknowledged ("delivery" in clickpath means an HTTP postback or webhook, never a Kafka
acknowledgement).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, Message

from clickpath.contracts.models import (
    Click,
    IngressEvent,
    PageView,
    PlayerEvent,
    Record,
    Registration,
    utcnow,
)
from clickpath.contracts.serde import Codec, build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.infra.kafka import make_producer
from clickpath.settings import Settings


class NotAcknowledged(RuntimeError):
    """The broker did not acknowledge one or more records."""


def route(event: IngressEvent) -> tuple[Topic, str]:
    """The topic and key an ingress event must be produced with.

    A registration that names a click goes to the click's partition first: the click stage
    links it, decides attribution and forwards both to the player, so its postback is two
    agent hops away instead of three (docs/architecture.md, "Hops")."""
    if isinstance(event, Click):
        return Topic.CLICKS, event.click_id
    if isinstance(event, Registration) and event.click_id is not None:
        return Topic.CLICKS, event.click_id
    if isinstance(event, PageView):
        return Topic.PAGE_VIEWS, event.click_id
    if isinstance(event, PlayerEvent):
        return Topic.EVENTS, event.person_id
    raise TypeError(f"{type(event).__name__} is not an ingress event")


class EventProducer:
    def __init__(
        self, settings: Settings, codec: Codec | None = None,
        on_acked: Callable[[Message], None] | None = None, **kafka: Any,
    ) -> None:
        """`on_acked` sees each acknowledged record (its partition and offset) on `poll`/`flush`."""
        self._settings = settings
        self._on_acked = on_acked
        self._codec = codec or build_codec(settings.schemas_dir, settings.schema_registry_url)
        self._producer = make_producer(settings, **kafka)
        self._errors: list[str] = []
        self._topics = {t: topic_name(settings, t) for t in Topic}

    def _on_ack(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err.str()}")
        elif self._on_acked is not None:
            self._on_acked(msg)

    def send(self, event: IngressEvent, stamp_received: bool = True) -> None:
        if stamp_received and event.received_at is None:
            event = event.model_copy(update={"received_at": utcnow()})
        topic, key = route(event)
        self.send_raw(self._topics[topic], key.encode(), self._codec.encode(event))

    def send_record(self, topic: Topic, key: str, record: Record) -> None:
        self.send_raw(self._topics[topic], key.encode(), self._codec.encode(record))

    def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=self._on_ack)
                break
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let acknowledgements drain
        self._producer.poll(0)

    def send_all(self, events: Iterable[IngressEvent]) -> int:
        count = 0
        for event in events:
            self.send(event)
            count += 1
        return count

    def flush(self, timeout_s: float = 30.0) -> None:
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise NotAcknowledged(f"{remaining} records not acknowledged within {timeout_s}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise NotAcknowledged(f"{len(errors)} records failed: {errors[:3]}")

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
