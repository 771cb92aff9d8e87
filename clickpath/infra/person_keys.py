"""Per-person data keys and erasure tombstones, on disk: what crypto-shredding destroys
(docs/privacy.md#per-person-keys).

One SQLite file, <data_dir>/privacy/person-keys.sqlite3 (stdlib sqlite3, WAL), shared by every
process on the host: each person's data key wrapped by the master key, a tombstone per erased key
id, and a key check value that tells a wrong master key at start instead of unwrapping garbage.
`PRAGMA secure_delete=ON` on every connection and a truncating WAL checkpoint after a destruction
overwrite the destroyed wrapped key in the file, not only unlink it from the b-tree.

Every commit is synchronous (`synchronous=FULL`): a key handed out may seal values that then go
to Kafka, so losing it to a crash would erase a person nobody asked to erase.

A key id, once tombstoned, never gets a key again: a replayed or late event of an erased person
finds no key (None) and its caller drops the personal fields instead of sealing them anew.

Each process caches what it read for at most `cache_s` seconds (bounded in size): `destroy` drops
the local entry at once, and another process stops handing out a destroyed key within `cache_s`.
Must never log or return a data key or the master key.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from clickpath.domain.privacy import (
    SealError,
    is_master_key,
    key_check_value,
    master_key_bytes,
    new_data_key,
    unwrap_key,
    wrap_key,
)

if TYPE_CHECKING:
    from clickpath.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS person_keys (key_id TEXT PRIMARY KEY, wrapped BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones (
    key_id TEXT PRIMARY KEY, erased_at TEXT NOT NULL, request_id TEXT NOT NULL, existed INTEGER NOT NULL
);
"""
_KEY_CHECK = "master_key_check"
_SQL_CHUNK = 500  # ids per IN (...) query, below SQLite's bound on parameters
DEFAULT_CACHE_ENTRIES = 100_000  # ~100 bytes each: a few MB per process at most


class PersonKeyError(RuntimeError):
    """The key store cannot be used as it is: a wrong master key, or a damaged wrapped key."""


@dataclass(frozen=True, slots=True)
class Shredding:
    """A tombstone: `key_id`'s data key was destroyed at `erased_at` for `request_id`;
    `existed` says whether there was a key to destroy (a person never seen has none)."""

    key_id: str
    existed: bool
    erased_at: datetime
    request_id: str


def _shredding(row: tuple[str, str, str, int]) -> Shredding:
    return Shredding(key_id=row[0], erased_at=datetime.fromisoformat(row[1]), request_id=row[2],
                     existed=bool(row[3]))


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _SQL_CHUNK):
        yield ids[start:start + _SQL_CHUNK]


class PersonKeys:
    """Per-person data keys, wrapped by the master key, in <data_dir>/privacy/person-keys.sqlite3
    (stdlib sqlite3, WAL, PRAGMA secure_delete=ON so a destroyed key is overwritten on disk),
    shared by every process on the host. Safe to use from several threads."""

    def __init__(
        self,
        path: Path,
        master_key: bytes,
        cache_s: float = 2.0,
        *,
        max_cached: int = DEFAULT_CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.cache_s = cache_s
        self._master = master_key
        self._max_cached = max_cached
        self._clock = clock
        # key id -> (data key, or None once tombstoned; when it was read)
        self._cache: OrderedDict[str, tuple[bytes | None, float]] = OrderedDict()
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # never world-readable, even briefly
        os.close(fd)
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._check_master_key()
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> PersonKeys:
        return cls(settings.person_keys_path, master_key_bytes(settings.master_key.get_secret_value()))

    def __enter__(self) -> PersonKeys:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _check_master_key(self) -> None:
        """Record the key check value on first use; refuse another master key afterwards."""
        check = key_check_value(self._master)
        with self._write():
            self._db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (_KEY_CHECK, check))
            (stored,) = self._db.execute("SELECT value FROM meta WHERE name = ?", (_KEY_CHECK,)).fetchone()
        if not is_master_key(self._master, bytes(stored)):
            raise PersonKeyError(
                f"{self.path} was made with another master key: CLICKPATH_MASTER_KEY must be the one "
                "the per-person keys were wrapped with (docs/privacy.md#per-person-keys)"
            )

    # --- transactions -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[None]:
        self._db.execute(begin)
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _write(self) -> AbstractContextManager[None]:
        """A write transaction, taken at once: writers in every process queue here."""
        return self._transaction("BEGIN IMMEDIATE")

    def _read(self) -> AbstractContextManager[None]:
        return self._transaction("BEGIN")

    # --- the cache ----------------------------------------------------------------------------

    def _cached(self, key_id: str, now: float) -> tuple[bool, bytes | None]:
        entry = self._cache.get(key_id)
        if entry is None:
            return False, None
        key, at = entry
        if key is None:  # a tombstone is for ever
            return True, None
        if now - at > self.cache_s:
            del self._cache[key_id]
            return False, None
        self._cache.move_to_end(key_id)
        return True, key

    def _remember(self, key_id: str, key: bytes | None, now: float) -> None:
        self._cache[key_id] = (key, now)
        self._cache.move_to_end(key_id)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)

    # --- reads and creation -------------------------------------------------------------------

    def _unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        try:
            return unwrap_key(self._master, key_id, wrapped)
        except SealError:
            raise PersonKeyError(f"the wrapped data key of {key_id!r} in {self.path} is damaged") from None

    def _lookup(self, ids: list[str]) -> tuple[dict[str, bytes], set[str]]:
        """(the stored wrapped keys, the tombstoned ids) among `ids`; within a transaction."""
        wrapped: dict[str, bytes] = {}
        erased: set[str] = set()
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            erased.update(r[0] for r in self._db.execute(
                f"SELECT key_id FROM tombstones WHERE key_id IN ({marks})", chunk))
            wrapped.update((r[0], bytes(r[1])) for r in self._db.execute(
                f"SELECT key_id, wrapped FROM person_keys WHERE key_id IN ({marks})", chunk))
        return wrapped, erased

    def _load(self, ids: list[str], create: bool) -> tuple[dict[str, bytes], set[str]]:
        """(the keys of `ids` from the file, the tombstoned ones); when `create`, keys are made for
        those with neither a key nor a tombstone (first writer wins: INSERT OR IGNORE, then read
        back what is stored)."""
        with self._read():
            wrapped, erased = self._lookup(ids)
        missing = [i for i in ids if i not in wrapped and i not in erased]
        if create and missing:
            with self._write():  # again under the write lock: another process may have been first
                wrapped_now, erased_now = self._lookup(missing)
                wrapped.update(wrapped_now)
                erased |= erased_now
                fresh = [(i, wrap_key(self._master, i, new_data_key()))
                         for i in missing if i not in wrapped_now and i not in erased]
                self._db.executemany("INSERT OR IGNORE INTO person_keys (key_id, wrapped) VALUES (?, ?)",
                                     fresh)
                wrapped.update(self._lookup([i for i, _ in fresh])[0])
        return {i: self._unwrap(i, w) for i, w in wrapped.items() if i not in erased}, erased

    def _get(self, key_ids: Iterable[str], create: bool) -> dict[str, bytes | None]:
        with self._lock:
            now = self._clock()
            out: dict[str, bytes | None] = {}
            todo: list[str] = []
            for key_id in dict.fromkeys(key_ids):
                hit, key = self._cached(key_id, now)
                if hit:
                    out[key_id] = key
                else:
                    todo.append(key_id)
            if todo:
                keys, erased = self._load(todo, create)
                for key_id in todo:
                    out[key_id] = keys.get(key_id)
                    if key_id in keys or key_id in erased:
                        self._remember(key_id, keys.get(key_id), now)
                    # a reader's "no key yet" is not cached: a writer may make it any moment
            return out

    def key_for(self, key_id: str) -> bytes | None:
        """The data key of `key_id`, created on first use; None when it was erased (never
        re-created)."""
        return self._get([key_id], create=True)[key_id]

    def keys_for(self, key_ids: Iterable[str]) -> dict[str, bytes | None]:
        """key_for of a batch (a door's batch of events): one read, and one write transaction for
        the new ones."""
        return self._get(key_ids, create=True)

    def existing(self, key_id: str) -> bytes | None:
        """The data key of `key_id` if it has one (readers: nothing is created)."""
        return self._get([key_id], create=False)[key_id]

    # --- erasure ------------------------------------------------------------------------------

    def destroy(self, key_id: str, *, at: datetime, request_id: str) -> Shredding:
        """Delete `key_id`'s wrapped key and record its tombstone. Idempotent: a second call
        returns the first tombstone unchanged."""
        if at.tzinfo is None:
            raise ValueError("destroy needs an aware `at` (UTC)")
        with self._lock:
            with self._write():
                row = self._db.execute("SELECT key_id, erased_at, request_id, existed FROM tombstones "
                                       "WHERE key_id = ?", (key_id,)).fetchone()
                if row is None:
                    deleted = self._db.execute("DELETE FROM person_keys WHERE key_id = ?", (key_id,))
                    existed = deleted.rowcount > 0
                    row = (key_id, at.astimezone(UTC).isoformat(), request_id, int(existed))
                    self._db.execute("INSERT INTO tombstones (key_id, erased_at, request_id, existed) "
                                     "VALUES (?, ?, ?, ?)", row)
            self._remember(key_id, None, self._clock())
            # Copy the overwritten pages into the file and empty the WAL, whose older frames still
            # hold the wrapped key. Another process reading at this moment keeps the WAL (busy):
            # then the next destruction's checkpoint empties it.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return _shredding(row)

    def erased_at(self, key_id: str) -> datetime | None:
        """When `key_id` was erased (its tombstone), or None."""
        with self._lock:
            row = self._db.execute("SELECT erased_at FROM tombstones WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else datetime.fromisoformat(row[0])

    def tombstones(self) -> list[Shredding]:
        """Every erasure, oldest first (listing, certificates)."""
        with self._lock:
            rows = self._db.execute("SELECT key_id, erased_at, request_id, existed FROM tombstones "
                                    "ORDER BY erased_at, key_id").fetchall()
        return [_shredding(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._cache.clear()
            self._db.close()
