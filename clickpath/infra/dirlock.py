"""One `clickpath up` per data directory: an OS lock on <data_dir>/up.lock for `up`'s lifetime.

Two `up`s on one data directory share the embedded ClickHouse (which one process at a time may
open), the state file and the broker journal: the second one breaks the first. An flock is held
by the open file, so the kernel releases it when `up` exits however it exits; a SIGKILLed `up`
never leaves a stale lock behind, which a pid file alone would. The pid written in the file is
only there to name the holder in the refusal.

Must never be taken by a read-only command: it is `up`'s alone.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE_NAME = "up.lock"


class DataDirInUse(RuntimeError):
    """Another process holds the data directory's lock; `pid` is the one it wrote, if readable."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"clickpath up (pid {pid})" if pid else "another clickpath up"
        super().__init__(
            f"{data_dir} is in use by {holder}; stop it, or set CLICKPATH_DATA_DIR to another"
            " directory"
        )
        self.pid = pid


class DataDirLock:
    """`acquire()` or DataDirInUse; `release()` (or process exit) frees it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE_NAME
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a planted symlink must not make `up` truncate some other file.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise DataDirInUse(self.data_dir, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            # The file stays: unlinking it would let a third `up` lock a new inode while a
            # second still waits on the old one.
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
