"""Produce ingress events from asyncio code and wait until the broker has acknowledged them.

The HTTP doors answer "accepted" only after acks=all: a background thread serves
confluent-kafka's delivery callbacks and resolves each event's future on the event loop, so a
request waits for its own events without blocking the others.

Events are written as batch records (docs/topics.md, 'Batch records'): one call's events are
grouped by partition, and across calls a partition works like Nagle's algorithm. When nothing of
that partition is in flight, events go out at once (a lone click as a plain single record,
with no added wait); while a record of it is in flight, newer events wait and go out together
as one record when that record is acknowledged, or after `CLICKPATH_BATCH_LINGER_MS` at the
latest. Every event's result is its record's acknowledgement, so a 302 or a 200 still means
acks=all for that event. One producer serves one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message

from clickpath.contracts.models import IngressEvent, Record
from clickpath.contracts.serde import Codec, build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.infra.batching import BatchEncoder, OutRecord, pack_partition
from clickpath.infra.kafka import make_producer
from clickpath.infra.partitioning import partition_for
from clickpath.infra.producer import route
from clickpath.settings import Settings

Where = tuple[str, int]  # (topic, partition)
Result = asyncio.Future[str | None]


@dataclass
class _Lane:
    """One partition's state on the event loop: records in flight and events waiting."""

    loop: asyncio.AbstractEventLoop
    in_flight: int = 0
    waiting: list[tuple[str, bytes, Result]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class AckedProducer:
    def __init__(self, settings: Settings, codec: Codec | None = None) -> None:
        self._codec = codec or build_codec(settings.schemas_dir, settings.schema_registry_url)
        # No librdkafka linger: a request waits for its own acknowledgement. At 500 clicks/s on
        # the embedded broker, linger.ms 1 made the median ack 2.5 ms instead of 0.6 and saved
        # no broker CPU. Events that arrive while their partition has a record in flight are
        # gathered here instead, into one batch record (see the module's docstring).
        self._producer = make_producer(
            settings,
            **{"linger.ms": 0, "message.timeout.ms": settings.ingress_ack_timeout_ms},
        )
        self._topics = {t: topic_name(settings, t) for t in Topic}
        self._partitions = settings.partitions  # every topic has them (kafka.create_topics)
        self._linger_s = settings.batch_linger_ms / 1000
        self._encoder = BatchEncoder(self._codec)
        self._lanes: dict[Where, _Lane] = {}
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="ingress-acks", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def send(self, events: Sequence[IngressEvent]) -> list[str | None]:
        """Produce `events`; per event None once acknowledged, or the broker's error."""
        loop = asyncio.get_running_loop()
        futures: list[Result] = []
        touched: dict[Where, _Lane] = {}
        for event in events:
            future: Result = loop.create_future()
            futures.append(future)
            topic, key = route(event)
            where = (self._topics[topic], partition_for(key.encode(), self._partitions))
            lane = self._lanes.get(where)
            if lane is None or lane.loop is not loop:  # a new loop: nothing of the old one waits
                lane = self._lanes[where] = _Lane(loop)
            lane.waiting.append((key, self._codec.encode(event), future))
            touched[where] = lane
        for where, lane in touched.items():
            if lane.in_flight == 0:
                self._release(where)  # nothing in flight: no reason to wait
            elif lane.timer is None:
                lane.timer = loop.call_later(self._linger_s, self._release, where)
        return list(await asyncio.gather(*futures))

    async def send_record(self, topic: Topic, key: str, record: Record) -> str | None:
        """Produce one record as it is (never in a batch record: the topics of the stages'
        own records carry none) to `key`'s partition; None once acknowledged, or the broker's
        error. For admin doors that write a stage's input (an unmerge to identity.inbox)."""
        loop = asyncio.get_running_loop()
        future: Result = loop.create_future()
        encoded = key.encode()
        out = OutRecord(self._topics[topic], partition_for(encoded, self._partitions), encoded,
                        self._codec.encode(record), (0,))

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            result = None if err is None else err.str()
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle_all, [future], result)

        try:
            self._produce(out, on_delivery)
        except KafkaException as e:  # refused locally: no ack will come
            return str(e)
        return await future

    def _release(self, where: Where) -> None:
        """Produce what waits for `where`: one record, or several beyond the size bound."""
        lane = self._lanes[where]
        if lane.timer is not None:
            lane.timer.cancel()
            lane.timer = None
        waiting, lane.waiting = lane.waiting, []
        if not waiting:
            return
        items = [(key, value) for key, value, _ in waiting]
        for record in pack_partition(*where, items, self._encoder):
            futures = [waiting[m][2] for m in record.members]
            try:
                self._produce(record, self._on_delivery(lane, where, futures))
            except KafkaException as e:  # refused locally (e.g. too large): no ack will come
                _settle_all(futures, str(e))
                continue
            lane.in_flight += 1

    def _produce(self, record: OutRecord, callback: Any) -> None:
        while True:
            try:
                self._producer.produce(
                    record.topic, value=record.value, key=record.key, partition=record.partition,
                    on_delivery=callback,
                )
                return
            except BufferError:
                self._producer.poll(0.01)  # local queue full: let acknowledgements drain

    def _on_delivery(self, lane: _Lane, where: Where, futures: list[Result]) -> Any:
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            result = None if err is None else err.str()
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                lane.loop.call_soon_threadsafe(self._acked, lane, where, futures, result)

        return on_delivery

    def _acked(self, lane: _Lane, where: Where, futures: list[Result], result: str | None) -> None:
        _settle_all(futures, result)
        lane.in_flight -= 1
        if lane.waiting and lane.in_flight == 0 and self._lanes.get(where) is lane:
            self._release(where)  # the partition is free: what gathered goes now

    def close(self, timeout_s: float = 10.0) -> None:
        for where, lane in self._lanes.items():
            if lane.waiting:
                self._release(where)
        self._producer.flush(timeout_s)
        self._stop.set()
        self._poller.join(timeout=1)


def _settle_all(futures: list[Result], result: str | None) -> None:
    for future in futures:
        if not future.done():
            future.set_result(result)
