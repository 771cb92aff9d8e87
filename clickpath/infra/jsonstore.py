"""A small JSON file that one process edits and others watch: API keys, catalogue, endpoints.

Edits happen under an exclusive lock and land atomically (write a temporary file, rename), so
a reader never sees half a file; readers stat the file on each use and re-read it only when it
changed, which is how a CLI command takes effect on a running service without a restart.

`write_atomic` and `write_json_atomic` are that atomic write for any small file: the state
files of `up`, the broker journal's snapshots, the importer's checkpoints, the local CLI key.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str, *, mode: int | None = 0o600, fsync: bool = False) -> None:
    """Replace `path` with `text` in one step: a reader sees the old content or the new, never
    half. The text goes to a temporary file of a name no other writer uses, in the same
    directory (so the rename stays on one file system), which then replaces `path`; on any
    error the temporary file is removed and `path` is left as it was.

    `mode`: the new file's permission bits (0o600: this user only), or None for what `open`
    would give (0o666 less the umask). `fsync`: flush the file, and after the rename its
    directory, to disk, so that the new content also outlives a crash of the machine.
    The directory must exist."""
    directory = path.parent
    while True:
        tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "w") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)  # the exact bits, whatever the umask
            f.write(text)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        sync_dir(directory)


def sync_dir(path: Path) -> None:
    """fsync a directory, so that a rename or removal in it is on disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any, *, indent: int | None = None,
                      default: Callable[[Any], Any] | None = None, mode: int | None = 0o600,
                      fsync: bool = False) -> None:
    """`write_atomic` of `data` as JSON (`indent` and `default` as for `json.dumps`)."""
    write_atomic(path, json.dumps(data, indent=indent, default=default), mode=mode, fsync=fsync)


class WatchedJsonFile:
    def __init__(self, path: Path, empty: Any, recheck_s: float = 0.0) -> None:
        """`recheck_s`: on a hot path, stat the file at most this often (a change then takes
        effect within that time instead of at the next call)."""
        self.path = path
        self._empty = empty
        self._recheck_s = recheck_s
        self._checked_at = float("-inf")
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read
        self._lock = threading.Lock()

    def changed(self) -> Any | None:
        """The file's content if it changed since the last call (the empty value once when it
        disappears), else None."""
        if self._recheck_s:
            now = time.monotonic()
            if now - self._checked_at < self._recheck_s:
                return None
            self._checked_at = now
        try:
            stat = self.path.stat()
            seen: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = None
        with self._lock:
            if seen == self._seen:
                return None
            self._seen = seen
        return self.read()

    def read(self) -> Any:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return copy.deepcopy(self._empty)  # a fresh one: callers may change it
        return json.loads(text) if text.strip() else copy.deepcopy(self._empty)

    @contextmanager
    def edit(self) -> Iterator[Any]:
        """Yield the current content to change in place; it is written back atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.read()
            yield data
            write_json_atomic(self.path, data, indent=1, default=str)
