"""A small JSON file that one process edits and others watch: API keys, catalogue, endpoints.

Edits happen under an exclusive lock and land atomically (write a temporary file, rename), so
a reader never sees half a file; readers stat the file on each use and re-read it only when it
changed, which is how a CLI command takes effect on a running service without a restart.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


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
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(data, indent=1, default=str))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
