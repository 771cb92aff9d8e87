"""Events grouped by partition and packed into batch records (docs/topics.md, 'Batch records').

A door holding several events writes one `EventBatch` record per (topic, partition) instead of
one record each: the stream agents pay the framework's per-record cost once per batch. The stage
runtime does the same with its outputs to a batched topic (`PartitionHold`, per micro-batch). Each
event goes to the partition its own key would get (`partition_for`), and the record is produced
to that partition explicitly, so per-key order and co-partitioning are as with single records.
A batch is at most `EVENT_BATCH_MAX_BYTES` encoded (split beyond); a group of one event, or an
event too large for any batch, is produced as the plain single record.

The Kafka key of a batch record is its first item's key, only so that the record has one:
consumers must not rely on it, every item carries its own key.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

from clickpath.contracts.batches import HEADER_BYTES, read_long, unpack
from clickpath.contracts.models import EVENT_BATCH_MAX_BYTES, EventBatch, Record
from clickpath.contracts.serde import Codec, DecodeError
from clickpath.infra.partitioning import partition_for

_END = b"\x00"  # the Avro array's closing zero-count block


def _varint_bytes(n: int) -> int:
    """Bytes of Avro's zig-zag varint for a non-negative `n` (a length or a count)."""
    return ((n << 1).bit_length() + 6) // 7 or 1


def _varint(n: int) -> bytes:
    """Avro's zig-zag varint of a non-negative `n`."""
    n <<= 1
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def item_bytes(key: str, value: bytes) -> int:
    """Encoded size of one `BatchItem`."""
    k = len(key.encode())
    return _varint_bytes(k) + k + _varint_bytes(len(value)) + len(value)


class BatchEncoder:
    """Writes `EventBatch` records directly: the schema is two fields in an array, and going
    through the models cost more than the rest of packing. The result decodes with the codec
    (a test checks it byte for byte against `Codec.encode`)."""

    def __init__(self, codec: Codec) -> None:
        empty = codec.encode(EventBatch(items=[]))
        self.header = empty[:HEADER_BYTES]

    def encode(self, items: Sequence[tuple[str, bytes]]) -> bytes:
        parts = [self.header, _varint(len(items))] if items else [self.header]
        for key, value in items:
            k = key.encode()
            parts += (_varint(len(k)), k, _varint(len(value)), value)
        parts.append(_END)
        return b"".join(parts)


class EventCounter:
    """How many events a record carries (1 unless it is a batch record), read from the batch's
    item count without decoding it: for readers that count or bound what they take (the
    sink's batches, the bench's tails). Both encoders (`BatchEncoder`, fastavro's) write the
    items as one Avro block, so its count is the batch's."""

    def __init__(self, codec: Codec) -> None:
        self._header = BatchEncoder(codec).header

    def __call__(self, value: bytes | None) -> int:
        if not value or value[:HEADER_BYTES] != self._header:
            return 1
        try:
            count, _ = read_long(value, HEADER_BYTES)
        except IndexError:
            return 1  # not a batch we can read: counted as the one record it is
        return abs(count)  # a sized block's count is < 0


class Pending(NamedTuple):
    """One encoded event waiting to be produced: its topic, key and single-record bytes."""

    topic: str
    key: str
    value: bytes


class OutRecord(NamedTuple):
    """A record to produce with an explicit partition; `members` are the indexes of the events
    it carries (in the order they were given)."""

    topic: str
    partition: int
    key: bytes
    value: bytes
    members: tuple[int, ...]


class Packer:
    """The events bound for one (topic, partition), until they are taken as one record."""

    def __init__(self, topic: str, partition: int, max_bytes: int = EVENT_BATCH_MAX_BYTES) -> None:
        self.topic = topic
        self.partition = partition
        self.max_bytes = max_bytes
        self.items: list[tuple[str, bytes]] = []
        self.members: list[int] = []
        self.started_at = 0.0  # time.monotonic() of the oldest event held
        self._items_bytes = 0

    def __len__(self) -> int:
        return len(self.items)

    def size(self, extra_items: int = 0, extra_bytes: int = 0) -> int:
        """Encoded bytes of the batch record holding these items (and `extra_*` more)."""
        n = len(self.items) + extra_items
        count = _varint_bytes(n) if n else 0
        return HEADER_BYTES + count + self._items_bytes + extra_bytes + len(_END)

    def fits(self, nbytes: int) -> bool:
        """Whether one more item of `nbytes` (`item_bytes`) keeps the record within bounds."""
        return self.size(1, nbytes) <= self.max_bytes

    def add(self, key: str, value: bytes, nbytes: int, member: int = -1) -> None:
        if not self.items:
            self.started_at = time.monotonic()
        self.items.append((key, value))
        self.members.append(member)
        self._items_bytes += nbytes

    def record(self, encoder: BatchEncoder) -> OutRecord:
        """The held events as one record (a plain single record when there is one)."""
        if not self.items:
            raise ValueError("nothing to take")
        if len(self.items) == 1:
            key, value = self.items[0]
        else:
            key = self.items[0][0]
            value = encoder.encode(self.items)
        return OutRecord(self.topic, self.partition, key.encode(), value, tuple(self.members))

    def clear(self) -> None:
        self.items, self.members, self._items_bytes = [], [], 0

    def take(self, encoder: BatchEncoder) -> OutRecord:
        """`record`, then empty: for callers whose produce cannot fail half-way."""
        record = self.record(encoder)
        self.clear()
        return record


def pack_partition(
    topic: str, partition: int, items: Sequence[tuple[str, bytes]], encoder: BatchEncoder,
    max_bytes: int = EVENT_BATCH_MAX_BYTES,
) -> list[OutRecord]:
    """The records that carry `items` (key, value), all bound for one partition, in order."""
    packer = Packer(topic, partition, max_bytes)
    out = []
    for index, (key, value) in enumerate(items):
        nbytes = item_bytes(key, value)
        if packer.items and not packer.fits(nbytes):
            out.append(packer.take(encoder))
        packer.add(key, value, nbytes, index)
    if packer.items:
        out.append(packer.take(encoder))
    return out


class PartitionHold:
    """Encoded events held by (topic, the partition their key gets), in order, until `take`
    packs them: one batch record per partition (split at `max_bytes`; a lone event as its
    single record). The stage runtime's outputs to a batched topic, per micro-batch."""

    def __init__(self, partitions: int, encoder: BatchEncoder,
                 max_bytes: int = EVENT_BATCH_MAX_BYTES) -> None:
        self._partitions, self._encoder, self._max_bytes = partitions, encoder, max_bytes
        self._held: dict[tuple[str, int], list[tuple[str, bytes]]] = {}

    def add(self, topic: str, key: str, value: bytes) -> None:
        where = (topic, partition_for(key.encode(), self._partitions))
        self._held.setdefault(where, []).append((key, value))

    def take(self) -> list[OutRecord]:
        """The held events as records, each to its partition; nothing is held after."""
        held, self._held = self._held, {}
        return [record for (topic, partition), items in held.items()
                for record in pack_partition(topic, partition, items, self._encoder, self._max_bytes)]


def pack(
    events: Sequence[Pending], partitions: int, codec: Codec, max_bytes: int = EVENT_BATCH_MAX_BYTES,
) -> list[OutRecord]:
    """The records that carry `events`: one per (topic, partition), split at `max_bytes`.

    Records of one partition come in the order of their events, so producing them in the
    returned order keeps every key's order."""
    encoder = BatchEncoder(codec)
    packers: dict[tuple[str, int], Packer] = {}
    out: list[OutRecord] = []
    for index, event in enumerate(events):
        where = (event.topic, partition_for(event.key.encode(), partitions))
        nbytes = item_bytes(event.key, event.value)
        packer = packers.get(where)
        if packer is None:
            packer = packers[where] = Packer(*where, max_bytes=max_bytes)
        elif packer.items and not packer.fits(nbytes):
            out.append(packer.take(encoder))
        packer.add(event.key, event.value, nbytes, index)
    out.extend(p.take(encoder) for p in packers.values() if p.items)
    return out


def events_in(codec: Codec, value: bytes | None, skip_undecodable: bool = False) -> list[Record]:
    """The events one Kafka record carries (`contracts.batches.unpack`), for readers that only
    want the events: an undecodable record or item raises DecodeError, or with
    `skip_undecodable` is left out (the importer's reconciliation judges nothing; agents
    dead-letter it)."""
    out = []
    for event in unpack(codec, None, value):
        if event.record is not None:
            out.append(event.record)
        elif not skip_undecodable:
            where = "" if event.index is None else f"batch item {event.index}: "
            raise DecodeError(f"{where}{event.error}")
    return out
