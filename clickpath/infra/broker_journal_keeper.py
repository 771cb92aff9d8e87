"""The journal keeper: copies every record of the embedded broker into <data_dir>/broker/.

A thread of the `up` process, not a supervised role: it must drain the broker *after* the
supervisor stopped every role (so the last commits are in) and *before* the broker stops, and
`up` is the one process that sees both moments; a role would need a second channel to be told.
It is confluent-kafka throughout (librdkafka's threads do the fetching), and its consumer
assigns partitions instead of joining a group, so it never waits on a rebalance and never
commits: its positions are the journal's record counts.

Every ~`snapshot_every_s` it snapshots every consumer group's committed offsets. A group's
commit means the changelog records and outputs of what it processed were acknowledged before it;
so the snapshot is written only once the journal has caught up with high watermarks fetched
after the offsets were read (and a discovery begun after it: see _snapshot_ready), and each
offset is capped at the records the journal holds (broker_journal.cap_offsets). A snapshot
that would change nothing is not written: an idle pipeline writes nothing.

Must never write to the broker.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, BinaryIO

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from clickpath.infra.broker_journal import (
    MAGIC,
    JournalDir,
    JournalError,
    JournalRecord,
    cap_offsets,
    encode_frame,
    write_json,
)
from clickpath.infra.broker_journal import (
    TopicPartition as TP,
)
from clickpath.infra.broker_offsets import committed_offsets

log = structlog.get_logger(__name__)

KEEPER_GROUP = "clickpath-broker-journal"  # never commits; only names the consumer
_PENDING_MAX_S = 10.0  # a snapshot waiting longer than this for the journal is read again
_FRESH_ROUNDS = 3  # consume() rounds after an offsets read before its watermarks are believed


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JournalKeeper:
    """Start with `start()`; `drain_and_stop()` at a graceful stop, `stop()` otherwise.
    `failure` holds why the journal stopped keeping up, if it did (then `up` must stop)."""

    def __init__(
        self,
        journal: JournalDir,
        bootstrap: str,
        held: dict[TP, int],
        *,
        fetch_wait_ms: int = 100,
        discover_every_s: float = 1.0,
        snapshot_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`held`: records per partition already in the journal (after a restore, what was
        produced back); journaling resumes there."""
        self.journal = journal
        self.bootstrap = bootstrap
        self.held = dict(held)
        self.fetch_wait_s = fetch_wait_ms / 1000
        self.discover_every_s = discover_every_s
        self.snapshot_every_s = snapshot_every_s
        self.clock = clock
        self.failure: str | None = None
        self.records_written = 0
        self._fetch_wait_ms = fetch_wait_ms
        self._topics = journal.topics()
        self._files: dict[TP, BinaryIO] = {}
        self._unsynced: set[TP] = set()
        self._last_offsets: dict[str, dict[TP, int]] | None = None
        self._rounds = 0  # consume() rounds so far
        self._discovered_at: float | None = None  # when the last discovery that succeeded began
        self._stop = threading.Event()
        self._drain = threading.Event()
        self._drained: str | None = None  # the clean-stop marker's time, once written
        self._thread = threading.Thread(target=self._run, name="broker-journal", daemon=True)

    # --- control, from `up`'s main thread -----------------------------------------------

    def start(self) -> JournalKeeper:
        self._thread.start()
        return self

    def drain_and_stop(self, timeout_s: float = 60.0) -> bool:
        """Journal every partition to its end, snapshot the offsets, mark the stop clean.
        Call once nothing produces or commits any more. False (and the journal marked not
        clean) if the keeper failed or did not get there in time."""
        self._drain.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self.failure = self.failure or f"not drained in {timeout_s:g} s"
            self._stop.set()
            self._thread.join(10)
        return self._drained is not None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    # --- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        consumer = Consumer({
            "bootstrap.servers": self.bootstrap,
            "group.id": KEEPER_GROUP,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            # Tansu holds a fetch for the whole wait even when data is there (docs/topics.md):
            # a long wait is cheap when idle and only delays the copy, never the pipeline.
            "fetch.wait.max.ms": self._fetch_wait_ms,
            "log_level": 3,
        })
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 3})
        try:
            self._keep(consumer, admin)
        except Exception as e:  # the journal is the restart's only copy: say it stopped
            self.failure = f"{type(e).__name__}: {e}"
            log.error("broker_journal_failed", error=self.failure)
        finally:
            self._close_files()
            consumer.close()

    def _keep(self, consumer: Consumer, admin: AdminClient) -> None:
        next_discovery = next_snapshot = 0.0
        pending: _Pending | None = None
        drain_since: float | None = None
        while not self._stop.is_set():
            now = self.clock()
            if self._drain.is_set() and drain_since is None:
                drain_since, next_discovery = now, 0.0  # a last look for new topics
            if now >= next_discovery:
                began = self.clock()
                try:
                    self._discover(consumer, admin)
                    next_discovery = now + self.discover_every_s
                    self._discovered_at = began
                except KafkaException as e:  # a busy broker: look again on the next turn
                    log.warning("broker_journal_metadata_unread", error=str(e))
            got = self._copy(consumer.consume(1000, timeout=self.fetch_wait_s))
            self._rounds += 1
            if drain_since is not None:
                if not got and next_discovery > drain_since and self._at_end(
                        consumer, now - drain_since):
                    try:
                        self._finish(admin)
                        return
                    except KafkaException as e:  # until drain_and_stop's deadline
                        log.warning("broker_journal_offsets_unread", error=str(e))
                continue
            if pending is not None and now > pending.due + _PENDING_MAX_S:
                pending = None  # the broker outran the journal for long: read offsets afresh
            if pending is None and now >= next_snapshot:
                next_snapshot = now + self.snapshot_every_s
                pending = self._read_offsets(admin, now)
            if pending is not None and self._snapshot_ready(consumer, pending, self.clock()):
                self._write_offsets(pending.taken_at, pending.offsets)
                pending = None

    def _discover(self, consumer: Consumer, admin: AdminClient) -> None:
        """Assign every partition not yet assigned, from the journal's count on (Faust makes its
        changelog and internal topics itself, whenever it likes)."""
        topics = {
            name: len(meta.partitions)
            for name, meta in admin.list_topics(timeout=10).topics.items()
            if not name.startswith("__") and meta.error is None
        }
        grown = {t: n for t, n in topics.items() if self._topics.get(t, 0) < n}
        if grown:  # before any of their records: a restore needs each topic's partitions
            self._topics.update(grown)
            write_json(self.journal.topics_file, dict(sorted(self._topics.items())))
        added = [
            TopicPartition(t, p, self.held.get((t, p), 0))
            for t, n in self._topics.items() for p in range(n) if (t, p) not in self._files
        ]
        if not added:
            return
        for tp in added:
            self._open(tp.topic, tp.partition)
        consumer.incremental_assign(added)
        log.debug("broker_journal_assigned", partitions=len(added))

    def _open(self, topic: str, partition: int) -> None:
        path = self.journal.partition_file(topic, partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        f = path.open("ab")
        if f.tell() == 0:
            f.write(MAGIC)
            f.flush()
        self._files[(topic, partition)] = f
        self.held.setdefault((topic, partition), 0)

    def _copy(self, messages: list[Any]) -> int:
        """Append each record to its partition's file; flush once per batch (to the OS: a
        killed `up` loses nothing written; fsync comes with each offsets snapshot)."""
        touched: set[TP] = set()
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("broker_journal_fetch_error", error=err.str())
                continue
            tp = (msg.topic(), msg.partition())
            expected = self.held[tp]
            if msg.offset() != expected:
                raise JournalError(f"{tp[0]}[{tp[1]}]: record at offset {msg.offset()}, the "
                                   f"journal expected {expected}: it can no longer restore "
                                   "offsets exactly")
            _, timestamp = msg.timestamp()
            record = JournalRecord(expected, timestamp, msg.key(), msg.value(),
                                   tuple(msg.headers() or ()))
            self._files[tp].write(encode_frame(record))
            self.held[tp] = expected + 1
            touched.add(tp)
        for tp in touched:
            self._files[tp].flush()
        self._unsynced |= touched
        self.records_written += len(messages)
        return len(messages)

    def _read_offsets(self, admin: AdminClient, now: float) -> _Pending | None:
        """The groups' offsets now, to be written once the journal has caught up; None (and a
        warning) when the broker does not answer: the last snapshot stays, the next try is in
        a second."""
        taken_at = now_iso()
        try:
            offsets = committed_offsets(admin, exclude={KEEPER_GROUP})
        except Exception as e:  # noqa: BLE001 - any admin failure is the same 'not now'
            log.warning("broker_journal_offsets_unread", error=str(e))
            return None
        read_at = self.clock()  # after the read: a commit made during it is covered
        return _Pending(taken_at, offsets, read_at=read_at, rounds=self._rounds,
                        due=read_at + _FRESH_ROUNDS * self.fetch_wait_s + 0.1)

    def _snapshot_ready(self, consumer: Consumer, pending: _Pending, now: float) -> bool:
        """True once the journal holds every record the offsets' commits came after.

        The target is what fetches answered *after* the offsets were read: a cached high
        watermark can be older than the OffsetFetch (on a busy machine the last fetch response
        may be), and would put the target below records the commits cover. So it is built only
        after `_FRESH_ROUNDS` consume() rounds begun after the read, each at least a fetch wait
        long taken together (librdkafka has fetched again by then), and after a discovery that
        began after the read (a topic the commits cover is assigned). A partition no fetch has
        answered for yet (assigned since) goes in as None and is asked again."""
        if pending.target is None:
            if (now < pending.due or self._rounds - pending.rounds < _FRESH_ROUNDS
                    or self._discovered_at is None or self._discovered_at <= pending.read_at):
                return False
            pending.target = self._high_watermarks(consumer)
        elif None in pending.target.values():
            now_marks = self._high_watermarks(consumer)
            pending.target = {tp: high if high is not None else now_marks.get(tp)
                              for tp, high in pending.target.items()}
        target = pending.target
        return all(high is not None and self.held[tp] >= high for tp, high in target.items())

    def _high_watermarks(self, consumer: Consumer) -> dict[TP, int | None]:
        """Each partition's end as the last fetch saw it (a fetch's high watermark is right on
        Tansu; its ListOffsets is not, docs/topics.md); None until a fetch has answered for it
        (a partition just assigned)."""
        marks: dict[TP, int | None] = {}
        for tp in self._files:
            _, high = consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)
            marks[tp] = high if high >= 0 else None
        return marks

    def _at_end(self, consumer: Consumer, draining_for: float) -> bool:
        """Drained: several fetches answered since the roles stopped, and every partition's
        journal count is its fetched high watermark."""
        if draining_for < 3 * self.fetch_wait_s + 0.3:
            return False
        marks = self._high_watermarks(consumer)
        return all(high is not None and self.held[tp] >= high for tp, high in marks.items())

    def _write_offsets(self, taken_at: str, offsets: dict[str, dict[TP, int]]) -> None:
        capped = cap_offsets(offsets, self.held)
        if capped == self._last_offsets:
            return
        self._sync()  # the records an offset points past are on disk before the offset is
        self.journal.write_offsets(taken_at, capped)
        self._last_offsets = capped

    def _finish(self, admin: AdminClient) -> None:
        taken_at = now_iso()
        self._write_offsets(taken_at, committed_offsets(admin, exclude={KEEPER_GROUP}))
        self._sync()
        self._drained = now_iso()
        write_json(self.journal.clean_stop, {
            "stopped_at": self._drained,
            "records": sum(self.held.values()),
            "topics": len(self._topics),
        })

    def _sync(self) -> None:
        for tp in self._unsynced:
            os.fsync(self._files[tp].fileno())
        self._unsynced.clear()

    def _close_files(self) -> None:
        for f in self._files.values():
            with contextlib.suppress(OSError):
                f.close()
        self._files.clear()


class _Pending:
    """Offsets read at `taken_at`, waiting for the journal to catch up with the broker."""

    def __init__(self, taken_at: str, offsets: dict[str, dict[TP, int]], *, read_at: float,
                 rounds: int, due: float) -> None:
        self.taken_at = taken_at
        self.offsets = offsets
        self.read_at = read_at  # the keeper's clock when the offsets were read
        self.rounds = rounds  # consume() rounds before the read
        self.due = due
        self.target: dict[TP, int | None] | None = None

