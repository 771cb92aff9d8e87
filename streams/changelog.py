"""Table writes that bypass Faust's per-write changelog send, recoverable by Faust all the same.

`table[key] = value` costs 140–190 µs here, most of it Faust's changelog send (docs/benchmarks.md):
with batch records that one write is the agents' ceiling. So a key's changelog record is produced
through confluent-kafka, in bytes Faust reads back (the key through the table's own serializer,
which lookups use too; the value as JSON, the table's value serializer) and to the partition Faust
would have chosen (the current event's), so Faust's recovery after a restart reads it unchanged.

The local store is never ahead of the changelog (docs/crash-safety.md): a
written value waits in an overlay, which reads consult first, until the flush that acknowledged
its changelog record; `persist_offsets` then applies the acknowledged values to the store together
with the newest offset they cover (Faust's persisted offset, so a restart reads only the changelog
after it). A SIGKILLed worker's RocksDB store is thus an acknowledged prefix, and recovery reads
the rest. Had the store taken values the changelog never got, a restart on the same disk would
keep them, a replay would find them "already applied" and write nothing, and after the next
failover the other worker would not have them (a natural-key duplicate would count twice).

Nothing is lost to the shortcut: the writer is flushed inside Faust's pre-commit flush (with the
agents' other outputs, `output_producer`), so an input offset is committed only after the state it
produced is in the changelog.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial
from typing import Any

import orjson
from confluent_kafka import KafkaError, Message, Producer
from faust.serializers import codecs
from faust.types import TP
from rocksdict import WriteBatch

from clickpath.infra.producer import NotAcknowledged

KEY_SERIALIZER = "clickpath-key"
"""The tables' key serializer: a key's bytes as Faust's "json" codec wrote them before orjson
was installed (ASCII, non-ASCII escaped). With orjson, "json" writes UTF-8, so a player id with
a non-ASCII letter would get new bytes and miss the rows stored under the old ones."""


class _AsciiJsonKeys(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    def _loads(self, s: bytes) -> Any:
        return json.loads(s)


codecs.register(KEY_SERIALIZER, _AsciiJsonKeys())


def value_bytes(value: Any) -> bytes:
    """A table value as the changelog carries it: compact JSON, which Faust's "json" reads."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def with_ascii_keys(table: Any) -> Any:
    """`table` with KEY_SERIALIZER for its keys: the table's (which its store takes when it is
    made, on the first read) and its changelog topic's (Faust takes both from the key type)."""
    table.key_serializer = KEY_SERIALIZER
    table.changelog_topic.key_serializer = KEY_SERIALIZER
    return table


class ChangelogWriter:
    """Writes one Faust table: the changelog record through confluent-kafka, the store once the
    record is acknowledged; reads see the newest write either way."""

    def __init__(self, table: Any, producer: Producer) -> None:
        """`producer`: confluent-kafka's, shared by the tables of one worker (one client, one
        flush), flushed by `flush` before every commit."""
        if table.value_serializer != "json":
            raise ValueError(f"table {table.name}: values are written as JSON, not "
                             f"{table.value_serializer!r}")
        self._table = table
        self.name: str = table.name  # the stage's: its crash points are named after it
        self._topic: str = table.changelog_topic.get_topic_name()
        self._producer = producer
        # key -> its newest write not yet in the store; each write links to the one before it
        # that is not in the store either (a flush acknowledges writes made before it began).
        self._overlay: dict[str, _Write] = {}
        self._produced: dict[int, int] = {}  # partition -> records produced
        self._marks: dict[int, int] = {}  # partition -> records produced when `flush` began
        self._flushed: dict[int, int] = {}  # the marks of the last acknowledged flush
        self._covered: dict[int, int] = {}  # partition -> newest offset at or below the mark
        self._errors: list[str] = []
        self._failed = False  # a record failed: the store takes nothing more

    def get(self, key: str) -> Any:
        """The newest value of `key`: written and not yet in the store, or the store's (the
        caller has made the key's event current, which picks the store's partition)."""
        written = self._overlay.get(key)
        if written is not None:
            return orjson.loads(written.raw_value)
        return self._table.get(key)

    def put(self, key: str, value: Any, partition: int) -> None:
        """Queue `key`'s changelog record for `partition`; the store takes it once acknowledged."""
        table = self._table
        raw_key = table.app.serializers.dumps_key(
            table.key_type, key, serializer=table.key_serializer
        )  # Faust's own bytes: stores look keys up by them
        raw_value = value_bytes(value)
        number = self._produced.get(partition, 0) + 1
        while True:
            try:
                self._producer.produce(
                    self._topic, key=raw_key, value=raw_value, partition=partition,
                    on_delivery=partial(self._on_ack, number),
                )
                break
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let acknowledgements drain
        self._produced[partition] = number
        self._overlay[key] = _Write(raw_key, raw_value, partition, number, self._overlay.get(key))
        self._producer.poll(0)

    def _on_ack(self, number: int, err: KafkaError | None, msg: Message) -> None:
        # `number` is the record's place among those produced to its partition, bound when it
        # was produced: reports are served by whichever thread polls (the flush's, or the event
        # loop's `put`), so counting them as they come could misnumber one.
        partition = msg.partition()
        if partition is None:
            return
        if err is not None:
            self._errors.append(err.str())
            return
        offset = msg.offset()
        if offset is not None and number <= self._marks.get(partition, 0):
            self._covered[partition] = max(offset, self._covered.get(partition, -1))

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait for every changelog record; raise (so Faust does not commit) if one failed.
        Runs beside the agents (in a thread): what they write meanwhile waits for the next."""
        marks = self._marks = dict(self._produced)
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise NotAcknowledged(f"{remaining} changelog records not acknowledged")
        if self._errors:
            # A failed record is never applied to the store: this writer persists nothing more
            # (Faust stops the worker on the raise; its successor recovers from the changelog).
            self._failed = True
            errors, self._errors = self._errors, []
            raise NotAcknowledged(f"{len(errors)} changelog records failed: {errors[:3]}")
        if self._failed:
            raise NotAcknowledged("a changelog record failed earlier: nothing more is persisted")
        self._flushed = marks

    def flush_queued(self) -> None:
        """Deliver what is queued, errors and all (a test-only crash point calls it just before
        it kills, so a point after a write means "that write landed")."""
        self._producer.flush(10.0)

    def persist_offsets(self) -> None:
        """Apply the values the last flush acknowledged to the store, with the newest changelog
        offset they cover as its persisted offset (on the event loop, where stores are used)."""
        flushed, self._flushed = self._flushed, {}
        covered, self._covered = self._covered, {}
        if not flushed:
            return
        applied: dict[int, list[tuple[str, bytes, bytes]]] = {}
        for key, newest in list(self._overlay.items()):
            newer: _Write | None = None
            write: _Write | None = newest
            while write is not None and write.number > flushed.get(write.partition, 0):
                newer, write = write, write.older
            if write is None:
                continue  # every write of the key came after the flush began
            applied.setdefault(write.partition, []).append((key, write.raw_key, write.raw_value))
            if newer is None:
                del self._overlay[key]
            else:
                newer.older = None  # the store has it (and what it replaced) now
        store = self._table.data
        for partition in applied.keys() | covered.keys():
            offset = covered.get(partition)
            _apply(store, TP(self._topic, partition), applied.get(partition, []), offset)

    def revoked(self, partitions: Iterable[int]) -> None:
        """Forget writes to partitions this worker no longer has (their next owner reads the
        changelog; Faust's commit on revocation has flushed what it could)."""
        gone = set(partitions)
        for key in [k for k, write in self._overlay.items() if write.partition in gone]:
            del self._overlay[key]
        for offsets in (self._covered, self._flushed):  # an offset must not outrun its values
            for partition in gone & offsets.keys():
                del offsets[partition]


class _Write:
    """A value written to the changelog and not yet to the store."""

    __slots__ = ("raw_key", "raw_value", "partition", "number", "older")

    def __init__(self, raw_key: bytes, raw_value: bytes, partition: int, number: int,
                 older: _Write | None) -> None:
        self.raw_key, self.raw_value, self.partition = raw_key, raw_value, partition
        self.number = number  # its place among the records produced to `partition`
        self.older = older


def _apply(store: Any, tp: TP, values: list[tuple[str, bytes, bytes]], offset: int | None) -> None:
    """Write acknowledged values into a partition's store, then its persisted offset (a crash
    between the two only makes recovery read a little more changelog)."""
    if values:
        if hasattr(store, "_db_for_partition"):  # Faust's RocksDB store: one write batch
            db = store._db_for_partition(tp.partition)
            batch = WriteBatch(raw_mode=True)
            for _, raw_key, raw_value in values:
                batch.put(raw_key, raw_value)
                store._key_index[raw_key] = tp.partition
            db.write(batch)
        else:  # the memory store (no persistence: the values only)
            for key, _, raw_value in values:
                store[key] = orjson.loads(raw_value)
    if offset is not None:
        store.set_persisted_offset(tp, offset)
