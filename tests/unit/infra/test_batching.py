"""Grouping events into batch records: partitions, per-key order, the size bound, singles."""

from __future__ import annotations

import pytest

from clickpath.contracts.batches import unpack
from clickpath.contracts.models import EVENT_BATCH_MAX_BYTES, BatchItem, EventBatch
from clickpath.contracts.serde import DecodeError, build_codec
from clickpath.infra.batching import (
    BatchEncoder,
    EventCounter,
    Packer,
    PartitionHold,
    Pending,
    events_in,
    item_bytes,
    pack,
    pack_partition,
)
from clickpath.infra.partitioning import partition_for
from clickpath.settings import Settings
from tests.factories import click, deposit

CODEC = build_codec(Settings().schemas_dir, None)
PARTITIONS = 4


def deposits(players: int, per_player: int) -> list[Pending]:
    """Interleaved: player 0's first, player 1's first, …, player 0's second, …"""
    out = []
    for n in range(per_player):
        for p in range(players):
            event = deposit(f"p{p}", f"t{p}-{n}", "10")
            out.append(Pending("events", event.person_id, CODEC.encode(event)))
    return out


def unpacked(value: bytes) -> list[tuple[str, bytes]]:
    record = CODEC.decode(value)
    if isinstance(record, EventBatch):
        return [(i.key, i.value) for i in record.items]
    return [("?", value)]


def test_every_event_lands_once_in_its_own_partition_in_order() -> None:
    events = deposits(players=12, per_player=5) + [
        Pending("clicks", f"clk-{i}", CODEC.encode(click(f"clk-{i}"))) for i in range(7)
    ]
    records = pack(events, PARTITIONS, CODEC)
    seen: list[int] = []
    for r in records:
        assert len({(events[m].topic, partition_for(events[m].key.encode(), PARTITIONS))
                     for m in r.members}) == 1, "one record, one partition"
        first = events[r.members[0]]
        assert (r.topic, r.partition) == (first.topic, partition_for(first.key.encode(), PARTITIONS))
        assert r.key == first.key.encode()
        if len(r.members) > 1:
            assert unpacked(r.value) == [(events[m].key, events[m].value) for m in r.members]
        seen += r.members
    assert sorted(seen) == list(range(len(events)))
    # per key (indeed per partition), the records' events come in the order given
    for key in {e.key for e in events}:
        order = [m for r in records for m in r.members if events[m].key == key]
        assert order == sorted(order)
    assert len(records) <= 2 * PARTITIONS  # one per (topic, partition) that got events


def test_a_group_of_one_stays_a_plain_single_record() -> None:
    event = Pending("events", "b:p1", CODEC.encode(deposit("p1", "t1", "10")))
    [record] = pack([event], PARTITIONS, CODEC)
    assert record.value == event.value and record.key == b"b:p1" and record.members == (0,)


def test_batches_split_at_the_size_bound_and_predict_their_size_exactly() -> None:
    events = deposits(players=1, per_player=300)
    per_event = item_bytes(events[0].key, events[0].value)
    bound = 40 * per_event  # room for about 39 events next to the header
    records = pack(events, PARTITIONS, CODEC, max_bytes=bound)
    assert len(records) > 1
    assert all(len(r.value) <= bound for r in records)
    assert [m for r in records for m in r.members] == list(range(300))
    # full batches are really full: one more event would not have fitted
    for r in records[:-1]:
        assert len(r.value) + per_event > bound
    packer = Packer("events", 0)
    for e in events[:17]:
        packer.add(e.key, e.value, item_bytes(e.key, e.value))
    size = packer.size()
    assert len(packer.take(BatchEncoder(CODEC)).value) == size


@pytest.mark.parametrize("n", [0, 1, 2, 63, 64, 200])
def test_the_batch_encoder_writes_what_the_codec_writes(n: int) -> None:
    items = [(f"k{i}" * (i % 70), b"v" * (i * 37 % 300)) for i in range(n)]
    expected = CODEC.encode(EventBatch(items=[BatchItem(key=k, value=v) for k, v in items]))
    assert BatchEncoder(CODEC).encode(items) == expected


def test_the_default_bound_is_256_kib() -> None:
    events = deposits(players=1, per_player=8000)
    records = pack(events, PARTITIONS, CODEC)
    assert len(records) > 1
    assert all(len(r.value) <= EVENT_BATCH_MAX_BYTES == 256 * 1024 for r in records)


def test_an_event_larger_than_the_bound_goes_alone_as_a_single_record() -> None:
    small = deposits(players=1, per_player=3)
    big = Pending(small[0].topic, small[0].key, small[0].value + b"x" * 600)  # not decodable: size only
    records = pack([small[0], big, small[1], small[2]], PARTITIONS, CODEC, max_bytes=500)
    assert [r.members for r in records] == [(0,), (1,), (2, 3)]
    assert records[1].value == big.value


def test_events_in_unpacks_batches_and_passes_singles() -> None:
    events = [deposit("p1", f"t{i}", "10") for i in range(3)]
    items = [BatchItem(key="b:p1", value=CODEC.encode(e)) for e in events]
    assert events_in(CODEC, CODEC.encode(EventBatch(items=items))) == events
    assert events_in(CODEC, CODEC.encode(events[0])) == [events[0]]
    bad = CODEC.encode(EventBatch(items=[items[0], BatchItem(key="k", value=b"junk"), items[1]]))
    with pytest.raises(DecodeError, match="batch item 1"):
        events_in(CODEC, bad)
    assert events_in(CODEC, bad, skip_undecodable=True) == events[:2]
    assert events_in(CODEC, b"junk", skip_undecodable=True) == []


def test_pack_partition_splits_one_partitions_items_in_order() -> None:
    events = deposits(players=1, per_player=50)
    items = [(e.key, e.value) for e in events]
    bound = 10 * item_bytes(*items[0])
    records = pack_partition("events", 3, items, BatchEncoder(CODEC), max_bytes=bound)
    assert len(records) > 1 and all(r.partition == 3 and len(r.value) <= bound for r in records)
    assert [m for r in records for m in r.members] == list(range(50))
    assert [v for r in records for _, v in unpacked(r.value)] == [v for _, v in items]


def test_the_event_counter_counts_a_batch_records_items_and_one_for_anything_else() -> None:
    count = EventCounter(CODEC)
    [batch] = pack(deposits(1, 5), PARTITIONS, CODEC)
    [large] = pack(deposits(1, 300), PARTITIONS, CODEC)  # a count of two varint bytes
    [single] = pack(deposits(1, 1), PARTITIONS, CODEC)
    assert count(batch.value) == 5 and count(large.value) == 300
    assert count(CODEC.encode(EventBatch(items=[BatchItem(key="k", value=b"x")] * 70))) == 70
    assert count(single.value) == 1
    assert count(b"\x00garbage") == 1 and count(None) == 1  # one record, whatever it holds


def test_a_partition_hold_packs_each_partitions_events_in_order_and_then_holds_nothing() -> None:
    hold = PartitionHold(PARTITIONS, BatchEncoder(CODEC))
    events = deposits(6, 3)
    for event in events:
        hold.add(event.topic, event.key, event.value)
    records = hold.take()

    assert len(records) == len({partition_for(e.key.encode(), PARTITIONS) for e in events})
    got = []
    for record in records:
        items = [(i.key or b"").decode() for i in unpack(CODEC, None, record.value)]
        assert {partition_for(k.encode(), PARTITIONS) for k in items} == {record.partition}
        got += [e.event_id for e in events_in(CODEC, record.value)]  # type: ignore[attr-defined]
    for key in {e.key for e in events}:  # every key's events once, in the order given
        mine = [CODEC.decode(e.value).event_id for e in events if e.key == key]  # type: ignore[attr-defined]
        assert [i for i in got if i in mine] == mine
    assert hold.take() == []
