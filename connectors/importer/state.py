"""What `clickpath import` remembers between runs, so a re-run neither repeats nor skips.

Under `<data_dir>/imports/`:

- `<key>.json`, one checkpoint per file version, cluster and `--brand`: the last line all of
  whose records the broker acknowledged, the byte offset after it, the counts so far, and where
  on each partition a crashed run's unconfirmed records could be. Written (atomically) only
  after `flush()` succeeded.
- `ledger.sqlite3`: the (brand_id, event_id) of every event an import delivered, per cluster
  and topic prefix, with the import and line it came from. Written before the checkpoint, in
  one transaction per acknowledged batch. It makes a re-run, an overlapping export or a
  corrected file send no event twice, and tells duplicates within a file from events another
  import already delivered.

The decisions (where to resume, which lines a crashed run may have delivered, what a record is)
are pure functions and methods here; nothing in this module talks to Kafka.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from pydantic import BaseModel

from clickpath.contracts.models import utcnow
from clickpath.infra.jsonstore import write_atomic
from clickpath.settings import Settings

CHECKPOINT_VERSION = 1
_HASH_CHUNK = 1 << 20

# Topic name -> partition -> the offset from which records of this import are not yet confirmed.
Positions = dict[str, dict[int, int]]


class ImportLocked(RuntimeError):
    """Another `clickpath import` of the same file to the same cluster is running."""


@dataclass(frozen=True)
class FileIdentity:
    """What makes two files the same import: the exact bytes (hash) and their length."""

    size: int
    sha256: str


def fingerprint(path: Path, on_bytes: Callable[[int], None] | None = None) -> FileIdentity:
    """Hash the whole file: a prefix would miss a corrected line in the middle of an export."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if on_bytes is not None:
                on_bytes(size)
    return FileIdentity(size, digest.hexdigest())


def target_of(settings: Settings) -> str | None:
    """The cluster and topic prefix events go to; None when no broker is configured.

    The embedded broker gets a new port at every `clickpath up` and forgets everything when it
    stops, so its address naming a new target is exactly right.
    """
    if not settings.kafka_bootstrap_servers:
        return None
    servers = sorted(s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip())
    return f"{','.join(servers)}/{settings.topic_prefix}"


def checkpoint_key(identity: FileIdentity, target: str, brand: str | None, fmt: str) -> str:
    text = f"{identity.sha256}|{identity.size}|{target}|{brand or ''}|{fmt}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class Counts(BaseModel):
    """What became of the records of a file (or of one run over it)."""

    imported: int = 0
    recovered: int = 0  # of `imported`: delivered by an interrupted run, found on the topics
    duplicates_in_file: int = 0
    duplicates_earlier: int = 0
    rejected: int = 0

    @property
    def duplicates(self) -> int:
        return self.duplicates_in_file + self.duplicates_earlier

    @property
    def records(self) -> int:
        return self.imported + self.duplicates + self.rejected

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{name: getattr(self, name) + getattr(other, name) for name in Counts.model_fields})


class Checkpoint(BaseModel):
    """Where an import of one file version stands; every change is a new Checkpoint."""

    version: int = CHECKPOINT_VERSION
    key: str
    file: str
    size: int
    sha256: str
    format: str
    target: str
    brand: str | None = None
    source: str
    line: int = 0
    offset: int = 0
    counts: Counts = Counts()
    rejects_file: str
    rejects_size: int = 0
    complete: bool = False
    # False while records past `line` may have reached the broker unconfirmed (a run is going,
    # or one died): the next run must then look for them on the topics before sending.
    clean: bool = True
    positions: Positions = {}
    # Lines up to here may hold records a crashed run delivered; until a run commits past it,
    # `positions` stay where that run left them, so a second crash still looks far enough back.
    recover_until_line: int | None = None
    batch_lines: int = 0
    started_at: datetime
    updated_at: datetime

    @classmethod
    def new(
        cls,
        key: str,
        path: Path,
        identity: FileIdentity,
        fmt: str,
        target: str,
        brand: str | None,
        source: str,
        rejects_file: Path,
    ) -> Checkpoint:
        now = utcnow()
        return cls(
            key=key,
            file=str(path.resolve()),
            size=identity.size,
            sha256=identity.sha256,
            format=fmt,
            target=target,
            brand=brand,
            source=source,
            rejects_file=os.path.abspath(rejects_file),  # a link there is not followed
            started_at=now,
            updated_at=now,
        )

    def begin(self, batch_lines: int, positions: Positions) -> Checkpoint:
        """The state to save before a run sends its first record; `positions`: the partitions' ends.

        A run that did not end cleanly sent up to one batch (its `batch_lines`) past `line`
        without recording the acknowledgement, so some of those records may be on the topics.
        The caller has looked for them from the old `positions` before calling this; those
        positions are kept until a run commits past that window.
        """
        recover_until = self.recover_until_line
        if not self.clean:
            recover_until = max(recover_until or 0, self.line + self.batch_lines)
        return self._next(
            clean=False,
            recover_until_line=recover_until,
            batch_lines=batch_lines,
            positions=self.positions if recover_until is not None else positions,
        )

    def advance(
        self, line: int, offset: int, delta: Counts, positions: Positions, rejects_size: int
    ) -> Checkpoint:
        """Everything up to `line` is acknowledged (or rejected, or a duplicate)."""
        recover_until = self.recover_until_line
        if recover_until is not None and line >= recover_until:
            recover_until = None
        return self._next(
            line=line,
            offset=offset,
            counts=self.counts + delta,
            rejects_size=rejects_size,
            recover_until_line=recover_until,
            positions=self.positions if recover_until is not None else positions,
        )

    def finish(self, complete: bool) -> Checkpoint:
        """The run stopped with nothing in flight; still unclean while a crash window is open.

        A complete file has nothing left to send, so no window matters any more.
        """
        if complete:
            return self._next(complete=True, clean=True, recover_until_line=None)
        return self._next(clean=self.recover_until_line is None)

    def recovering(self, line: int) -> bool:
        """Whether `line` may hold a record that a crashed run delivered."""
        return self.recover_until_line is not None and line <= self.recover_until_line

    def _next(self, **changes: object) -> Checkpoint:
        return self.model_copy(update={**changes, "updated_at": utcnow()})


class Outcome(Enum):
    SEND = "send"
    RECOVERED = "recovered"  # delivered by an interrupted run: count it, do not send it again
    DUPLICATE_IN_FILE = "duplicate_in_file"
    DUPLICATE_EARLIER = "duplicate_earlier"


@dataclass(frozen=True)
class LedgerEntry:
    mine: bool  # delivered by an earlier run of this same import
    line: int


def classify(
    event_key: tuple[str, str],
    *,
    in_batch: bool,
    entry: LedgerEntry | None,
    committed_line: int,
    on_topics: bool,
) -> Outcome:
    """What to do with a valid event.

    `in_batch`: the same (brand, event_id) came earlier in this unacknowledged batch. `entry`:
    the ledger's record of it. `committed_line`: the checkpoint's line. `on_topics`: found on
    the topics past a crashed run's positions, and this line is in that run's window.
    """
    if in_batch:
        return Outcome.DUPLICATE_IN_FILE
    if entry is not None:
        if not entry.mine:
            return Outcome.DUPLICATE_EARLIER
        # The ledger is committed before the checkpoint: a line past the checkpoint means the
        # run that delivered it died between the two writes.
        return Outcome.RECOVERED if entry.line > committed_line else Outcome.DUPLICATE_IN_FILE
    return Outcome.RECOVERED if on_topics else Outcome.SEND


class CheckpointStore:
    """The checkpoint files of one data directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    @property
    def reports_directory(self) -> Path:
        """Where the rejects reports clickpath made are recorded (connectors/importer/rejects.py)."""
        return self.directory / "reports"

    def load(self, key: str) -> Checkpoint | None:
        path = self.path(key)
        if not path.exists():
            return None
        return Checkpoint.model_validate_json(path.read_text())

    def save(self, checkpoint: Checkpoint) -> None:
        """Write-then-rename, so a crash leaves the old checkpoint or the new one, never half."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(checkpoint.key)
        write_atomic(path, checkpoint.model_dump_json(indent=2), mode=None, fsync=True)

    def earlier_versions(self, path: Path, target: str, identity: FileIdentity) -> list[Checkpoint]:
        """Checkpoints of the same path and cluster made when the file had other content."""
        if not self.directory.is_dir():
            return []
        found = []
        for candidate in self.directory.glob("*.json"):
            try:
                cp = Checkpoint.model_validate_json(candidate.read_text())
            except ValueError:
                continue
            if cp.file == str(path.resolve()) and cp.target == target and cp.sha256 != identity.sha256:
                found.append(cp)
        return sorted(found, key=lambda cp: cp.updated_at)

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """One run per checkpoint; the OS drops the lock when the process dies, however."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / f"{key}.lock").open("w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ImportLocked(
                    "another `clickpath import` of this file to this cluster is running"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


class Ledger:
    """The events imports delivered to one target: SQLite, so millions cost no memory."""

    FILE = "ledger.sqlite3"

    def __init__(self, db: sqlite3.Connection, target: str, import_key: str, readonly: bool = False) -> None:
        self._db = db
        self._readonly = readonly
        self._target_id = self._id("targets", target)
        self._import_id = self._id("imports", import_key)
        if not readonly:
            db.commit()

    @classmethod
    def open(cls, directory: Path, target: str, import_key: str) -> Ledger:
        directory.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(directory / cls.FILE, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(
            """
            CREATE TABLE IF NOT EXISTS targets (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
            CREATE TABLE IF NOT EXISTS imports (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
            CREATE TABLE IF NOT EXISTS delivered (
                target INTEGER NOT NULL, brand_id TEXT NOT NULL, event_id TEXT NOT NULL,
                import_id INTEGER NOT NULL, line INTEGER NOT NULL,
                PRIMARY KEY (target, brand_id, event_id)
            ) WITHOUT ROWID;
            """
        )
        return cls(db, target, import_key)

    @classmethod
    def open_readonly(cls, directory: Path, target: str, import_key: str) -> Ledger | None:
        """For a dry run: the ledger if there is one, without creating or changing anything."""
        path = directory / cls.FILE
        if not path.exists():
            return None
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        return cls(db, target, import_key, readonly=True)

    def _id(self, table: str, name: str) -> int:
        row = self._db.execute(f"SELECT id FROM {table} WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        if self._readonly:
            return -1  # never stored, so nothing matches it
        return int(self._db.execute(f"INSERT INTO {table} (name) VALUES (?)", (name,)).lastrowid or 0)

    def lookup(self, brand_id: str, event_id: str) -> LedgerEntry | None:
        row = self._db.execute(
            "SELECT import_id, line FROM delivered WHERE target = ? AND brand_id = ? AND event_id = ?",
            (self._target_id, brand_id, event_id),
        ).fetchone()
        if row is None:
            return None
        return LedgerEntry(mine=row[0] == self._import_id, line=int(row[1]))

    def add(self, delivered: Iterable[tuple[str, str, int]]) -> None:
        """Record (brand_id, event_id, line) the broker acknowledged; the first delivery wins."""
        self._db.executemany(
            "INSERT OR IGNORE INTO delivered (target, brand_id, event_id, import_id, line)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                (self._target_id, brand, event_id, self._import_id, line)
                for brand, event_id, line in delivered
            ),
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()
