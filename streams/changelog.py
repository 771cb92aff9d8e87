"""Table writes that bypass Faust's per-write changelog send, recoverable by Faust all the same.

`table[key] = value` costs 140–190 µs here, most of it Faust's changelog send (docs/benchmarks.md):
with batch records that one write is the agents' ceiling. So a key's new value is put straight into
the table's store and its changelog record is produced through confluent-kafka, in bytes Faust
reads back (the key through the table's own serializer, which lookups use too; the value as
JSON, the table's value serializer) and to the partition Faust would have chosen (the current
event's), so Faust's recovery after a restart reads it unchanged.

Nothing is lost to the shortcut: the writer is flushed inside Faust's pre-commit flush (with the
agents' other outputs, `output_producer`), so an input offset is committed only after the state it
produced is in the changelog. Once a flush has been acknowledged, each partition's newest
changelog offset is stored as the RocksDB store's persisted offset, as Faust's own send callback
does, so a restart reads only the changelog written after it.
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from faust.stores.base import SerializedStore
from faust.types import TP

from clickpath.infra.producer import NotAcknowledged


class ChangelogWriter:
    """Writes one Faust table: the store now, the changelog record through confluent-kafka."""

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
        self._acked: dict[int, int] = {}  # partition -> newest acknowledged offset
        self._errors: list[str] = []

    def put(self, key: str, value: Any, partition: int) -> None:
        """Set `key` in the store (the caller has made the key's event current, which picks
        the store's partition) and queue its changelog record for `partition`."""
        table = self._table
        raw_key = table.app.serializers.dumps_key(
            table.key_type, key, serializer=table.key_serializer
        )  # Faust's own bytes: stores look keys up by them
        raw_value = json.dumps(value, separators=(",", ":")).encode()  # any JSON reads back
        store = table.data
        if isinstance(store, SerializedStore):
            store._set(raw_key, raw_value)  # what store[key] = value does, without encoding twice
        else:
            store[key] = value
        while True:
            try:
                self._producer.produce(
                    self._topic, key=raw_key, value=raw_value, partition=partition,
                    on_delivery=self._on_ack,
                )
                break
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let acknowledgements drain
        self._producer.poll(0)

    def _on_ack(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._errors.append(err.str())
            return
        partition, offset = msg.partition(), msg.offset()
        if partition is not None and offset is not None:
            self._acked[partition] = max(offset, self._acked.get(partition, -1))

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait for every changelog record; raise (so Faust does not commit) if one failed."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise NotAcknowledged(f"{remaining} changelog records not acknowledged")
        if self._errors:
            errors, self._errors = self._errors, []
            raise NotAcknowledged(f"{len(errors)} changelog records failed: {errors[:3]}")

    def flush_queued(self) -> None:
        """Deliver what is queued, errors and all (a test-only crash point calls it just before
        it kills, so a point after a write means "that write landed")."""
        self._producer.flush(10.0)

    def persist_offsets(self) -> None:
        """Record the acknowledged changelog offsets in the store (a no-op in memory)."""
        acked, self._acked = self._acked, {}
        for partition, offset in acked.items():
            self._table.data.set_persisted_offset(TP(self._topic, partition), offset)
