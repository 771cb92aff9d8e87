"""The operator SDK's EventProducer writes batch records: where they land, what they carry."""

from __future__ import annotations

from clickpath.contracts.models import EventBatch
from clickpath.contracts.topics import Topic
from clickpath.infra.batching import events_in
from clickpath.infra.partitioning import partition_for
from clickpath.infra.producer import EventProducer, route
from tests.factories import click, deposit
from tests.integration.harness import read_records as records
from tests.integration.harness import wait_until


def journeys(n: int) -> list:
    events = []
    for i in range(n):
        events.append(click(f"clk-{i}"))
        events += [deposit(f"p{i % 9}", f"t{i}-{k}", "10") for k in range(3)]
    return events


def test_send_all_writes_batches_to_each_events_own_partition_in_order(settings, codec) -> None:
    events = journeys(60)
    acked = []
    with EventProducer(settings, codec=codec, on_acked=acked.append) as producer:
        assert producer.send_all(events) == len(events)
    got = records(settings)
    assert len(acked) == len(got) < len(events)  # one acknowledgement per record, not per event
    assert any(isinstance(codec.decode(v), EventBatch) for *_, v in got)
    landed = []
    for topic, partition, _key, value in got:
        for event in events_in(codec, value):
            t, key = route(event)
            assert (t, partition) == (topic, partition_for(key.encode(), settings.partitions))
            landed.append(event.event_id)
    assert sorted(landed) == sorted(e.event_id for e in events)
    # a key's events share a partition, read in offset order: they must come as they were sent
    for player in {e.person_id for e in events if hasattr(e, "person_id")}:
        expected = [e.event_id for e in events if getattr(e, "person_id", None) == player]
        assert [e for e in landed if e in set(expected)] == expected


def test_one_event_per_record_when_batching_is_off(settings, codec) -> None:
    events = journeys(5)
    with EventProducer(settings, codec=codec, batch_records=False) as producer:
        producer.send_all(events)
    got = records(settings)
    assert len(got) == len(events)
    assert not any(isinstance(codec.decode(v), EventBatch) for *_, v in got)


def test_a_held_event_goes_out_after_the_linger_without_a_flush(settings, codec) -> None:
    producer = EventProducer(settings, codec=codec)
    try:
        producer.send(deposit("p1", "t-linger", "10"))
        wait_until(lambda: records(settings, (Topic.EVENTS,)), 30, "the lingering event")
        [(_, _, key, value)] = records(settings, (Topic.EVENTS,))
        assert key == b"brand-a:p1"
        assert [e.event_id for e in events_in(codec, value)] == ["ev-dep-t-linger"]  # single record
    finally:
        producer.flush()
