"""A record is read as the events it carries; a bad item fails alone."""

from __future__ import annotations

from datetime import UTC, datetime

from clickpath.contracts.batches import KindPeek, unpack
from clickpath.contracts.models import BatchItem, CanonicalEvent, EventBatch
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


def canonical(event_type: str, event_id: str = "ev-1") -> CanonicalEvent:
    return CanonicalEvent(
        event_id=event_id, event_type=event_type, occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
        processed_at=datetime(2026, 11, 1, tzinfo=UTC), brand_id="brand-a", source="crm",
        person_id="brand-a:p1", player_id="p1", is_ftd=False, payload="{}",
    )


def test_the_kind_of_an_event_is_read_from_its_bytes_and_other_records_have_none() -> None:
    peek = KindPeek(CODEC)
    long_id = "e" * 300  # a length over one varint byte
    assert peek(CODEC.encode(canonical("wager"))) == "wager"
    assert peek(CODEC.encode(canonical("login", long_id))) == "login"
    assert peek(CODEC.encode(click("c1"))) == "click"  # ingress events start the same way
    assert peek(CODEC.encode(EventBatch(items=[]))) is None
    cut = CODEC.encode(canonical("wager", long_id))[:9]
    assert peek(cut) is None and peek(b"") is None and peek(b"\x00garbage") is None
    negative = CODEC.encode(canonical("wager"))[:5] + b"\x01" + b"wager"  # a length of -1
    assert peek(negative) is None


def test_skipped_events_are_not_decoded_and_the_others_are() -> None:
    records = [canonical("login", "ev-1"), canonical("deposit", "ev-2"), canonical("login", "ev-3")]
    items = [BatchItem(key="brand-a:p1", value=CODEC.encode(r)) for r in records]
    items.append(BatchItem(key="brand-a:p1", value=b"\x00garbage"))  # no kind: decoded, fails
    peek = KindPeek(CODEC)
    events = unpack(CODEC, b"brand-a:p1", CODEC.encode(EventBatch(items=items)),
                    skip=lambda value: peek(value) == "login")
    assert [(e.index, e.skipped, e.record) for e in events[:3]] == [
        (0, True, None), (1, False, records[1]), (2, True, None)
    ]
    assert events[3].error and not events[3].skipped
    [single] = unpack(CODEC, b"k", CODEC.encode(records[0]), skip=lambda value: True)
    assert single.skipped and single.record is None
