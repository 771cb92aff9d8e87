"""Read a Kafka record as the events it carries: one, or every item of an `EventBatch`.

Agents apply what comes out one event at a time, whichever way it was produced; an item that
fails to decode fails alone, with its index, and the rest of its batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clickpath.contracts.models import EventBatch, Record
from clickpath.contracts.serde import Codec, DecodeError

HEADER_BYTES = 5  # Confluent wire format: magic byte 0 and a 4-byte schema id


@dataclass(frozen=True)
class Unpacked:
    """One event read from a record: its record, or why it has none (a dead letter), or that
    it was skipped unread (`skipped`: not of a kind the reader wants)."""

    index: int | None  # None for a single-event record; the item's index in an EventBatch
    key: bytes | None
    value: bytes
    record: Record | None = None
    error: str | None = None
    skipped: bool = False


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """Avro's zig-zag varint at `pos`: (value, the position after it); IndexError if cut."""
    n, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (n >> 1) ^ -(n & 1), pos


class KindPeek:
    """The `event_type` of an encoded record, read from its first bytes without decoding it,
    so that a stage skips the records of kinds it never acts on (Stage.wants_kind) for the
    price of a few bytes instead of a decode. Only records whose writer schema starts with the
    string fields `event_id` and `event_type` (canonical and ingress events) have a kind; any
    other record, or bytes that do not read, has none and is decoded as usual."""

    def __init__(self, codec: Codec) -> None:
        self._codec = codec
        self._starts_with_kind: dict[int, bool] = {}

    def _has_kind(self, schema_id: int) -> bool:
        known = self._starts_with_kind.get(schema_id)
        if known is None:
            try:
                _, writer = self._codec.writer_schema(schema_id)
            except DecodeError:
                writer = {}
            fields = [(f.get("name"), f.get("type")) for f in writer.get("fields", [])[:2]]
            known = fields == [("event_id", "string"), ("event_type", "string")]
            self._starts_with_kind[schema_id] = known
        return known

    def __call__(self, value: bytes | None) -> str | None:
        if not value or len(value) < HEADER_BYTES or value[0] != 0:
            return None
        if not self._has_kind(int.from_bytes(value[1:HEADER_BYTES], "big")):
            return None
        try:
            id_length, pos = read_long(value, HEADER_BYTES)  # event_id, skipped
            if id_length < 0:
                return None
            length, pos = read_long(value, pos + id_length)  # event_type
        except IndexError:
            return None
        if length < 0 or pos + length > len(value):
            return None  # not a string there: decoded as usual (a dead letter if it fails)
        return value[pos:pos + length].decode(errors="replace")

    def skipper(self, wants_kind: Callable[[str], bool] | None) -> Callable[[bytes], bool] | None:
        """`unpack`'s `skip`: a record with a kind `wants_kind` refuses (None: skip nothing)."""
        if wants_kind is None:
            return None

        def skip(value: bytes) -> bool:
            kind = self(value)
            return kind is not None and not wants_kind(kind)

        return skip


def unpack(
    codec: Codec, key: bytes | None, value: bytes | None,
    skip: Callable[[bytes], bool] | None = None,
) -> list[Unpacked]:
    """The events of a record; `skip(bytes)` True: that event is not decoded (`skipped`)."""
    if skip is not None and value and skip(value):
        return [Unpacked(None, key, value, skipped=True)]
    try:
        record = codec.decode(value)
    except DecodeError as e:
        return [Unpacked(None, key, value or b"", error=str(e))]
    if not isinstance(record, EventBatch):
        return [Unpacked(None, key, value or b"", record=record)]
    events = []
    for index, item in enumerate(record.items):
        raw_key = item.key.encode()
        if skip is not None and skip(item.value):
            events.append(Unpacked(index, raw_key, item.value, skipped=True))
            continue
        try:
            event = codec.decode(item.value)
        except DecodeError as e:
            events.append(Unpacked(index, raw_key, item.value, error=str(e)))
            continue
        if isinstance(event, EventBatch):
            events.append(Unpacked(index, raw_key, item.value, error="EventBatch inside an EventBatch"))
            continue
        events.append(Unpacked(index, raw_key, item.value, record=event))
    return events
