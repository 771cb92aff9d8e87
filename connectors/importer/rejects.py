"""The rejects report (`<file>.rejected.jsonl`, or `--rejects PATH`): one JSON line per record
an import or a dry run refused.

It must never write through, truncate or delete what clickpath did not make: a planted symlink
at the report's path pointed it at any file the operator can write, and `--rejects EXISTING`
used to delete that file. So the report is created with O_CREAT | O_EXCL | O_NOFOLLOW, and the
identity (device, inode) of each report made is recorded beside the checkpoints
(`<data dir>/imports/reports/`). A later run may truncate or replace a file at the report's path
only when it is a regular file with the recorded identity (one clickpath made there); anything
else there is refused with `ReportInTheWay`, before a record is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import IO, Any

from clickpath.connectors.importer.files import SourceRecord
from clickpath.connectors.ingress import Rejection
from clickpath.infra.jsonstore import write_json_atomic

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
_REOPEN = os.O_WRONLY | os.O_NOFOLLOW | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)


class ReportInTheWay(Exception):
    """Something clickpath did not make is at the report's path: the message says what to do."""


class RejectsReport:
    """The report at `path`; created on the first rejection, never before (a clean import
    leaves none). `keep_bytes`: what a checkpoint says an earlier run of this import wrote; the
    rest (lines written past the checkpoint by a run that stopped) is cut, as they are written
    again. `registry`: the directory recording the reports clickpath made."""

    def __init__(self, path: Path, keep_bytes: int, registry: Path) -> None:
        self.path = Path(os.path.abspath(path))  # not resolved: the last component is not followed
        self._registry = registry
        self._file: IO[str] | None = None
        try:
            found = os.lstat(path)
        except FileNotFoundError:
            return
        if not self._made_here(found):
            raise ReportInTheWay(
                f"{path} already exists and clickpath did not write it there: an import writes its "
                "report of rejected records to a new file only (it never follows a link or "
                "overwrites a file). Move it away, or name another file with --rejects."
            )
        if not keep_bytes:  # our own report, of an earlier run or file version: start anew
            path.unlink()
            return
        fd = os.open(path, _REOPEN)
        if not self._made_here(os.fstat(fd)):  # swapped between the lstat and the open
            os.close(fd)
            raise ReportInTheWay(f"{path} was replaced while the import started; not touching it")
        os.ftruncate(fd, keep_bytes)
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def write(self, record: SourceRecord, rejection: Rejection) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, _CREATE, 0o644)
            except FileExistsError:
                raise ReportInTheWay(f"{self.path} appeared while the import ran; not touching it") from None
            self._remember(os.fstat(fd))
            self._file = os.fdopen(fd, "a", encoding="utf-8")
        entry: dict[str, Any] = {"line": record.line, "field": rejection.field, "reason": rejection.reason}
        if isinstance(record.data, dict) and isinstance(record.data.get("event_id"), str):
            entry["event_id"] = record.data["event_id"]
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def size(self) -> int:
        if self._file is None:
            return 0
        self._file.flush()
        return os.fstat(self._file.fileno()).st_size

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    # --- which files clickpath made -------------------------------------------------------

    def _entry(self) -> Path:
        digest = hashlib.sha256(str(self.path).encode()).hexdigest()[:32]
        return self._registry / f"{digest}.json"

    def _made_here(self, found: os.stat_result) -> bool:
        if not stat.S_ISREG(found.st_mode):
            return False
        try:
            made = json.loads(self._entry().read_text())
        except (OSError, ValueError):
            return False
        return isinstance(made, dict) and made.get("path") == str(self.path) and (
            made.get("device"), made.get("inode")) == (found.st_dev, found.st_ino)

    def _remember(self, made: os.stat_result) -> None:
        self._registry.mkdir(parents=True, exist_ok=True)
        entry = self._entry()
        write_json_atomic(entry, {"path": str(self.path), "device": made.st_dev,
                                  "inode": made.st_ino}, mode=None)
