"""Put the broker journal back into a fresh embedded broker, before any role starts.

Every topic is created with its journaled partition count, every record produced back in
order to its partition, and each delivery's offset checked against the one it had: Faust's
changelog offsets, the sinks' and Faust's committed positions and the RocksDB stores' persisted
offsets all name offsets, so they must come out identical, not merely in the same order.
Tansu assigns offsets densely per partition, records of one batch included (its ListOffsets
is what misreports batches, docs/topics.md), so the producer batches normally; the high
watermarks are then read back from a fetch, which Tansu answers right. Last, every group's
offsets are committed as the snapshot had them.

Anything that does not come out as journaled raises RestoreFailed: `up` then refuses to start
rather than run empty next to ClickHouse rows counted from the stream state it lost.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from clickpath.infra.broker_journal import (
    JournalDir,
    JournalError,
    cap_offsets,
    read_json,
    read_records,
    scan_file,
)
from clickpath.infra.broker_journal import (
    TopicPartition as TP,
)
from clickpath.infra.broker_offsets import commit_offsets


class RestoreFailed(RuntimeError):
    """The journal could not be put back as it was; the broker must not be used as is."""


@dataclass(frozen=True)
class PreviousStop:
    """How the run that wrote the journal ended, and what that means for what is restored."""

    clean: bool
    last_record_write: float | None  # epoch s of the last journal write
    offsets_taken_at: str | None
    torn: dict[TP, int] = field(default_factory=dict)  # bytes dropped from a file's tail

    def describe(self) -> str:
        if self.clean:
            return "clean"
        parts = ["NOT clean — `up` was killed (or the machine stopped) without draining"]
        if self.last_record_write is not None:
            at = datetime.fromtimestamp(self.last_record_write, UTC).strftime("%H:%M:%S.%f")[:-3]
            parts.append(f"records the broker took after {at} UTC (the journal's last write) are"
                         " not restored: events accepted then may be missing from the stream"
                         " state while ClickHouse may count them")
        if self.offsets_taken_at:
            parts.append(f"consumers resume from their offsets of {self.offsets_taken_at[11:23]}"
                         " UTC (later records are processed again; every stage is idempotent)")
        if self.torn:
            parts.append(f"a torn record ({sum(self.torn.values())} bytes) was dropped from the"
                         f" end of {len(self.torn)} partition file(s)")
        return "; ".join(parts)


@dataclass(frozen=True)
class Restored:
    records: int
    topics: int
    held: dict[TP, int]  # records per partition, now in the broker and the journal
    groups: int
    seconds: float
    previous: PreviousStop

    def summary(self, root: str) -> str:
        rate = f", {self.records / self.seconds:,.0f} records/s" if self.records else ""
        return (f"restored {self.records} records of {self.topics} topics from {root}"
                f" (previous stop: {self.previous.describe()})"
                f" in {self.seconds:.1f} s{rate}; offsets of {self.groups} consumer groups")


def inspect_journal(journal: JournalDir) -> tuple[dict[str, int], dict[TP, int], PreviousStop]:
    """Topics, good records per partition, and how the last run ended; a torn tail is
    accepted (and counted in `torn`) when the run was killed (half a frame is all a kill
    leaves) and refused when the run stopped cleanly (then it is damage). Touches no file:
    `cut_torn_tails` cuts them once the restore has succeeded."""
    journal.check_format()
    last_write = journal.last_record_write()
    topics = journal.topics()
    clean = journal.clean_stop.is_file()
    on_disk = {p.parent.name for p in journal.records.glob("*/*.rec")}
    if unknown := sorted(on_disk - set(topics)):
        raise JournalError(f"{journal.records}: records of topics not in topics.json: {unknown}")
    held: dict[TP, int] = {}
    torn: dict[TP, int] = {}
    for topic, partitions in topics.items():
        for partition in range(partitions):
            path = journal.partition_file(topic, partition)
            scan = scan_file(path)
            if scan.torn_bytes:
                if clean:
                    raise JournalError(f"{path}: {scan.torn_bytes} unreadable bytes after record"
                                       f" {scan.count}, although the last stop was clean")
                torn[(topic, partition)] = scan.torn_bytes
            held[(topic, partition)] = scan.count
    taken_at, _ = journal.offsets()
    stopped = read_json(journal.clean_stop, {}) if clean else {}
    if clean and stopped.get("records") != sum(held.values()):
        raise JournalError(f"{journal.clean_stop}: says {stopped.get('records')} records, the"
                           f" files hold {sum(held.values())}")
    return topics, held, PreviousStop(clean, last_write, taken_at, torn)


def restore(journal: JournalDir, bootstrap: str, timeout_s: float = 300.0) -> Restored:
    """Put the journal into the (empty) broker at `bootstrap`; RestoreFailed if it cannot."""
    started = time.monotonic()
    try:
        topics, held, previous = inspect_journal(journal)
        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
        _create_topics(admin, topics)
        _produce_back(journal, bootstrap, held, timeout_s)
        _check_ends(bootstrap, held, timeout_s)
        _, snapshot = journal.offsets()
        groups = cap_offsets(snapshot, held)
        commit_offsets(admin, groups)
        # Only now: a restore that fails leaves the journal as it was, as `up` then says.
        cut_torn_tails(journal, previous.torn)
    except (JournalError, KafkaException, RuntimeError, OSError) as e:
        raise RestoreFailed(str(e)) from e
    return Restored(sum(held.values()), len(topics), held, len(groups),
                    time.monotonic() - started, previous)


def cut_torn_tails(journal: JournalDir, torn: Mapping[TP, int]) -> None:
    """Cut each torn tail off (the keeper appends after the last good frame), durably."""
    for (topic, partition), torn_bytes in torn.items():
        path = journal.partition_file(topic, partition)
        with path.open("r+b") as f:
            size = os.fstat(f.fileno()).st_size
            f.truncate(size - torn_bytes)
            os.fsync(f.fileno())


def _create_topics(admin: AdminClient, topics: Mapping[str, int]) -> None:
    if not topics:
        return
    futures = admin.create_topics([NewTopic(t, n, 1) for t, n in topics.items()],
                                  operation_timeout=30)
    for future in futures.values():
        future.result()
    have = {name: len(meta.partitions) for name, meta in admin.list_topics(timeout=10).topics.items()}
    if wrong := {t: (n, have.get(t)) for t, n in topics.items() if have.get(t) != n}:
        raise RuntimeError(f"topics not created as journaled (wanted, got): {wrong}")


def _produce_back(journal: JournalDir, bootstrap: str, held: Mapping[TP, int],
                  timeout_s: float) -> None:
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,  # order kept through retries: offsets come out the same
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 500000,
        "log_level": 3,
    })
    problems: list[str] = []

    def delivered(tp: TP, expected: int, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            problems.append(f"{tp[0]}[{tp[1]}] offset {expected}: {err.str()}")
        elif msg.offset() != expected:
            problems.append(f"{tp[0]}[{tp[1]}]: record {expected} landed at {msg.offset()}")

    sent = 0
    for (topic, partition), count in held.items():
        for record in read_records(journal.partition_file(topic, partition), count):
            extra: dict[str, Any] = {"timestamp": record.timestamp} if record.timestamp > 0 else {}
            while True:
                try:
                    producer.produce(
                        topic, value=record.value, key=record.key, partition=partition,
                        headers=list(record.headers) or None,
                        on_delivery=functools.partial(delivered, (topic, partition), record.offset),
                        **extra,
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
            sent += 1
            if sent % 1000 == 0:
                producer.poll(0)  # serve delivery reports as they come, not all at the end
                if problems:
                    raise RuntimeError(f"records did not come back as journaled: {problems[:3]}")
    if left := producer.flush(timeout_s):
        raise RuntimeError(f"{left} records not acknowledged in {timeout_s:g} s")
    if problems:
        raise RuntimeError(f"records did not come back as journaled: {problems[:3]}")


def _check_ends(bootstrap: str, held: Mapping[TP, int], timeout_s: float) -> None:
    """Each partition's high watermark, from a fetch of its last record, is its journal count."""
    from confluent_kafka import Consumer

    probe = {tp: n for tp, n in held.items() if n > 0}
    if not probe:
        return
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "clickpath-restore-check",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 10, "log_level": 3})
    try:
        consumer.assign([TopicPartition(t, p, n - 1) for (t, p), n in probe.items()])
        deadline = time.monotonic() + timeout_s
        while probe:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no fetch answered for {sorted(probe)[:3]}")
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            tp = (msg.topic(), msg.partition())
            if tp not in probe:
                continue
            _, high = consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)
            if msg.offset() != probe[tp] - 1 or high != probe[tp]:
                raise RuntimeError(f"{tp[0]}[{tp[1]}]: ends at {high} (last record at "
                                   f"{msg.offset()}), the journal holds {probe[tp]}")
            del probe[tp]
    finally:
        consumer.close()
