"""Read a Kafka record as the events it carries: one, or every item of an `EventBatch`.

Agents apply what comes out one event at a time, whichever way it was produced; an item that
fails to decode fails alone, with its index, and the rest of its batch goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickpath.contracts.models import EventBatch, Record
from clickpath.contracts.serde import Codec, DecodeError


@dataclass(frozen=True)
class Unpacked:
    """One event read from a record: its record, or why it has none (a dead letter)."""

    index: int | None  # None for a single-event record; the item's index in an EventBatch
    key: bytes | None
    value: bytes
    record: Record | None = None
    error: str | None = None


def unpack(codec: Codec, key: bytes | None, value: bytes | None) -> list[Unpacked]:
    try:
        record = codec.decode(value)
    except DecodeError as e:
        return [Unpacked(None, key, value or b"", error=str(e))]
    if not isinstance(record, EventBatch):
        return [Unpacked(None, key, value or b"", record=record)]
    events = []
    for index, item in enumerate(record.items):
        raw_key = item.key.encode()
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
