"""A delivery engine with nothing real around it: a clock the test moves, a partner answered
in memory (httpx.MockTransport), and a producer and consumer that record what the engine
produced and committed. The engine's lanes get no workers (it is not running): a test steps
them with `attempt_next`, by its clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from clickpath.contracts.models import Postback, Record
from clickpath.contracts.serde import Codec, build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.domain.endpoints import Endpoint
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.settings import Settings
from clickpath.sinks.delivery import DeliveryEngine
from clickpath.sinks.delivery.egress import EgressPolicy

PARTNER = "http://93.184.216.34"  # a public address: the egress guard passes it without DNS
START = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeProducer:
    """Keeps what was produced; `events` is shared with the consumer, to see the order of
    flushes and commits."""

    def __init__(self, events: list) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.events = events

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> None:
        self.sent.append((topic, key, value))

    def flush(self, timeout: float = -1) -> int:
        self.events.append(("flush", len(self.sent)))
        return 0


class FakeConsumer:
    def __init__(self, events: list) -> None:
        self.events = events

    def commit(self, *, offsets, asynchronous: bool) -> None:
        self.events.append(("commit", {(tp.topic, tp.partition): tp.offset for tp in offsets}))

    @property
    def commits(self) -> list[dict[tuple[str, int], int]]:
        return [e[1] for e in self.events if e[0] == "commit"]


@dataclass
class Message:
    """What the engine reads of a confluent-kafka Message."""

    _topic: str
    _partition: int
    _offset: int
    _value: bytes | None
    _key: bytes | None = None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def error(self) -> None:
        return None


Answer = Callable[[httpx.Request, int], httpx.Response]


@dataclass
class Partner:
    """The partner's endpoints: `answer(request, n)` answers the n-th request (1-based). While
    `gate` is clear, requests wait at the partner (in flight)."""

    clock: FakeClock
    answer: Answer = lambda _req, _n: httpx.Response(200)
    takes_s: float = 0.0  # how long each request takes, by the fake clock
    requests: list[httpx.Request] = field(default_factory=list)
    gate: asyncio.Event | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        self.clock.advance(self.takes_s)
        return self.answer(request, len(self.requests))


@dataclass
class Harness:
    engine: DeliveryEngine
    clock: FakeClock
    partner: Partner
    producer: FakeProducer
    consumer: FakeConsumer
    codec: Codec
    settings: Settings

    def topic(self, t: Topic) -> str:
        return topic_name(self.settings, t)

    def read(self, record: Record, offset: int, topic: Topic = Topic.POSTBACKS, partition: int = 0) -> None:
        """The engine reads `record` at `offset` of `topic`."""
        self.engine.accept(Message(self.topic(topic), partition, offset, self.codec.encode(record)))

    def produced(self, t: Topic) -> list[Record]:
        return [self.codec.decode(v) for topic, _k, v in self.producer.sent if topic == self.topic(t)]

    def pending(self, endpoint_id: str) -> list:
        lane = self.engine.lanes.get(endpoint_id)
        return sorted(lane.heap) if lane else []

    async def attempt_all_due(self, endpoint_id: str) -> int:
        steps = 0
        while await self.engine.attempt_next(endpoint_id):
            steps += 1
        return steps


def endpoint(endpoint_id: str = "ep", affiliate: str = "aff-1", path: str = "/pb?cid={click_id}",
             **kw) -> Endpoint:
    return Endpoint(endpoint_id=endpoint_id, affiliate_id=affiliate, url=PARTNER + path,
                    events=["registration", "ftd"], **kw)


def postback(n: int, token: str = "tok1", affiliate: str = "aff-1", event: str = "ftd") -> Postback:
    return Postback(
        postback_id=f"pb-{n}", affiliate_id=affiliate, campaign_id="camp-1", brand_id="brand-a",
        event=event, click_id=f"c{n}", amount=Decimal("10") if event == "ftd" else None,
        currency="EUR" if event == "ftd" else None, player_token=token,
        occurred_at=datetime.fromtimestamp(START - 60, UTC),
    )


@pytest.fixture
def make_engine(tmp_path):
    """`make_engine(endpoints, answer, **settings)`: a harness around a fresh engine."""

    def make(endpoints: list[Endpoint], answer: Answer | None = None, **overrides) -> Harness:
        settings = Settings(data_dir=tmp_path / "data", topic_prefix="t", **overrides)
        codec = build_codec(settings.schemas_dir, None)
        clock = FakeClock()
        partner = Partner(clock) if answer is None else Partner(clock, answer)
        events: list = []
        producer, consumer = FakeProducer(events), FakeConsumer(events)
        http = httpx.AsyncClient(transport=httpx.MockTransport(partner))
        engine = DeliveryEngine(
            settings, store=EndpointStore(tmp_path / "endpoints.json", endpoints), codec=codec,
            clock=clock, http=http, producer=producer, consumer=consumer,  # type: ignore[arg-type]
            egress=EgressPolicy(),
        )
        return Harness(engine, clock, partner, producer, consumer, codec, settings)

    return make
