"""The delivery engine reads what the topic registry says `sink-postbacks` reads, and writes only
what it may write there, keyed as each topic is keyed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from clickpath.contracts.models import PostbackRevocation
from clickpath.contracts.topics import SPECS, Node, Topic, check_emit, topics_by_name
from tests.unit.sinks.conftest import START, Message, endpoint, postback


class SubscribingConsumer:
    def __init__(self) -> None:
        self.subscribed: list[list[str]] = []

    def subscribe(self, topics: list[str], on_assign: object = None, on_revoke: object = None) -> None:
        self.subscribed.append(list(topics))


def subscriptions(h) -> set[str]:
    consumer = SubscribingConsumer()
    h.engine.consumer = consumer
    h.engine._subscribe()
    [topics] = consumer.subscribed
    return set(topics)


def test_without_a_webhook_endpoint_the_engine_reads_postbacks_and_retries(make_engine) -> None:
    """And the webhooks topic: rarely written (paid CPAs, closed statements), cheap to read."""
    h = make_engine([endpoint()])
    assert subscriptions(h) == {
        h.topic(Topic.POSTBACKS), h.topic(Topic.WEBHOOKS), h.topic(Topic.DELIVERY_RETRIES),
    }


def test_a_webhook_endpoint_adds_the_canonical_events(make_engine) -> None:
    h = make_engine([endpoint(), endpoint("wh", kind="webhook", method="POST", affiliate=None, path="/hook")])
    assert subscriptions(h) == {
        h.topic(Topic.POSTBACKS), h.topic(Topic.WEBHOOKS), h.topic(Topic.DELIVERY_RETRIES),
        h.topic(Topic.CANONICAL),
    }


def test_everything_the_engine_writes_is_what_the_registry_lets_it_write(make_engine) -> None:
    answers = {1: httpx.Response(200), 2: httpx.Response(503, headers={"retry-after": "3600"}),
               3: httpx.Response(410)}
    h = make_engine([endpoint()], lambda _req, n: answers[n], delivery_inline_retry_max_s=30.0)
    for n in (1, 2, 3):
        h.read(postback(n, token=f"tok{n}"), offset=n)
        asyncio.run(h.engine.attempt_next("ep"))
    h.read(PostbackRevocation(affiliate_id="aff-1", player_token="tok9", reason="consent withdrawn",
                              revoked_at=datetime.fromtimestamp(START, UTC)), offset=4)
    h.engine.accept(Message(h.topic(Topic.POSTBACKS), 0, 5, b"\x00garbage", b"k"))

    by_name = topics_by_name(h.settings)
    written = [(by_name[topic], key, h.codec.decode(value)) for topic, key, value in h.producer.sent]
    assert {topic for topic, _, _ in written} == {
        Topic.DELIVERY_ATTEMPTS, Topic.DELIVERY_RETRIES, Topic.DEAD_LETTER,
    }
    for topic, key, record in written:
        check_emit(Node.SINK_POSTBACKS, topic, record)
        assert (key or b"").decode() == SPECS[topic].key.of(record), (topic, record)
