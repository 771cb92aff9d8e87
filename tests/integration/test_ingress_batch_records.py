"""The HTTP doors' AckedProducer: batch records per partition, each event settled by its record's
acknowledgement, a lone click as a plain single record, concurrent clicks gathered."""

from __future__ import annotations

import asyncio

from clickpath.connectors.acked_producer import AckedProducer
from clickpath.contracts.models import EventBatch
from clickpath.contracts.topics import Topic
from clickpath.infra.batching import events_in
from clickpath.infra.partitioning import partition_for
from clickpath.infra.producer import route
from tests.factories import click, deposit
from tests.integration.harness import read_records


def placed(settings, codec, topics=(Topic.CLICKS, Topic.EVENTS)) -> tuple[list, list[str]]:
    """The records on `topics`, and every event id in read order, each checked to be in the
    partition its own key gets."""
    got = read_records(settings, topics)
    ids = []
    for topic, partition, _key, value in got:
        for event in events_in(codec, value):
            t, key = route(event)
            assert (t, partition) == (topic, partition_for(key.encode(), settings.partitions))
            ids.append(event.event_id)
    return got, ids


def test_one_calls_events_go_as_one_record_per_partition_each_settled(settings, codec) -> None:
    events = [click(f"clk-{i}") for i in range(10)]
    events += [deposit(f"p{i % 4}", f"t{i}", "10") for i in range(40)]
    producer = AckedProducer(settings, codec)
    try:
        assert asyncio.run(producer.send(events)) == [None] * len(events)
    finally:
        producer.close()
    got, ids = placed(settings, codec)
    assert sorted(ids) == sorted(e.event_id for e in events)
    assert len(got) <= 2 * settings.partitions
    assert all(isinstance(codec.decode(v), EventBatch) for *_, v in got)
    for player in {e.person_id for e in events[10:]}:
        mine = [e.event_id for e in events[10:] if e.person_id == player]
        assert [i for i in ids if i in set(mine)] == mine


def test_a_lone_click_is_a_plain_single_record(settings, codec) -> None:
    producer = AckedProducer(settings, codec)
    try:
        assert asyncio.run(producer.send([click("alone")])) == [None]
    finally:
        producer.close()
    [(topic, _, key, value)] = read_records(settings, (Topic.CLICKS,))
    assert (topic, key) == (Topic.CLICKS, b"alone")
    single = codec.decode(value)
    assert not isinstance(single, EventBatch) and single.event_id == click("alone").event_id


def test_concurrent_clicks_join_batches_and_each_waits_for_its_ack(settings, codec) -> None:
    clicks = [click(f"c-{i}") for i in range(200)]
    producer = AckedProducer(settings, codec)

    async def one_request_each() -> list[list[str | None]]:
        return await asyncio.gather(*(producer.send([c]) for c in clicks))

    try:
        assert asyncio.run(one_request_each()) == [[None]] * len(clicks)
        # a later idle click still goes at once, alone
        assert asyncio.run(producer.send([click("after")])) == [None]
    finally:
        producer.close()
    got, ids = placed(settings, codec, (Topic.CLICKS,))
    assert sorted(ids) == sorted([c.event_id for c in clicks] + [click("after").event_id])
    assert len(got) < len(clicks) // 4  # gathered while their partition had a record in flight
    [after] = [v for *_, v in got if click("after").event_id.encode() in v]
    assert not isinstance(codec.decode(after), EventBatch)


def test_a_record_the_broker_refuses_settles_each_of_its_events_with_the_error(settings, codec) -> None:
    producer = AckedProducer(settings.with_overrides(partitions=settings.partitions + 7), codec)
    try:
        events = [deposit(f"p{i}", f"t{i}", "10") for i in range(30)]
        results = asyncio.run(producer.send(events))
    finally:
        producer.close()
    # partitions past the topic's real count do not exist: those events fail, the others land
    failed = {e.event_id for e, r in zip(events, results, strict=True) if r is not None}
    ok = {e.event_id for e, r in zip(events, results, strict=True) if r is None}
    assert failed and ok
    landed = [e.event_id for *_, v in read_records(settings, (Topic.EVENTS,)) for e in events_in(codec, v)]
    assert set(landed) == ok
