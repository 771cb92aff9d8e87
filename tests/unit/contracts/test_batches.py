"""A record is read as the events it carries; a bad item fails alone."""

from __future__ import annotations

from clickpath.contracts.batches import unpack
from clickpath.contracts.models import BatchItem, EventBatch
from clickpath.contracts.serde import build_codec
from clickpath.settings import Settings
from tests.factories import click, deposit

CODEC = build_codec(Settings().schemas_dir, None)


def test_a_single_event_record_is_one_event_without_an_index() -> None:
    data = CODEC.encode(click("c1"))
    [event] = unpack(CODEC, b"c1", data)
    assert (event.index, event.key, event.value, event.record) == (None, b"c1", data, click("c1"))


def test_a_bad_item_fails_alone_with_its_index_and_bytes() -> None:
    good = [CODEC.encode(deposit("p1", f"t{i}", "5")) for i in range(2)]
    inner = CODEC.encode(EventBatch(items=[]))
    items = [
        BatchItem(key="brand-a:p1", value=good[0]),
        BatchItem(key="brand-a:p1", value=b"\x00garbage"),
        BatchItem(key="brand-a:p1", value=inner),
        BatchItem(key="brand-a:p1", value=good[1]),
    ]
    events = unpack(CODEC, b"brand-a:p1", CODEC.encode(EventBatch(items=items)))
    assert [e.index for e in events] == [0, 1, 2, 3]
    assert [e.record is not None for e in events] == [True, False, False, True]
    assert events[1].value == b"\x00garbage" and events[1].error
    assert "inside an EventBatch" in (events[2].error or "")
    assert events[3].record == deposit("p1", "t1", "5")


def test_an_undecodable_record_is_one_failed_event() -> None:
    [event] = unpack(CODEC, None, b"\x01\x00\x00\x00\x01xyz")
    assert event.record is None and event.index is None and "magic byte" in (event.error or "")
