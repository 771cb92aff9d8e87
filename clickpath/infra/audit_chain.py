"""The audit chain on disk: `<data_dir>/audit/chain.jsonl`, one entry a line, appended only,
and `<data_dir>/audit/head.json`, the signed head, replaced atomically after each append.

Every process of the host (the API service, each CLI command, the roles) appends under an
exclusive `fcntl.flock` on `<data_dir>/audit/lock`, so the chain stays one line of entries
whoever writes; each line is fsynced before the head that names it is written (and fsynced).

A crash between the two leaves one entry after the signed head. The next append adopts it (it
links to the head and its hash is right) and says so in an `audit.tail_adopted` entry; anything
else that does not end where the signed head says (a missing or foreign head, entries cut off
or rewritten) makes every append fail with AuditChainBroken until an operator has looked
(docs/privacy.md#audit-trail): a change is never recorded onto a chain that no longer proves
anything. A torn last line (a crash mid-write, its head never written) is cut off.

One chain per data directory, so per host: a data directory shared over NFS, where flock is
not to be trusted, is not supported.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from clickpath.domain.audit.chain import AuditEntry, Head, head_is_signed, recomputed_hash, sign_head
from clickpath.domain.audit.verify import Unreadable
from clickpath.infra.jsonstore import sync_dir, write_json_atomic

log = structlog.get_logger(__name__)

CHAIN_FILE = "chain.jsonl"
HEAD_FILE = "head.json"
LOCK_FILE = "lock"
_TAIL_CHUNK = 8192


class AuditChainBroken(RuntimeError):
    """The chain does not end where its signed head says: nothing more is appended to it."""


def read_head(directory: Path) -> Head | None:
    """The head file's head; None when it is missing or not a head."""
    try:
        return Head.from_json(json.loads((directory / HEAD_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _parse(line: bytes) -> AuditEntry:
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return AuditEntry.from_json(data)


def read_chain(directory: Path) -> list[AuditEntry | Unreadable]:
    """Every line of the chain file, as an entry or as why it is not one."""
    try:
        raw = (directory / CHAIN_FILE).read_bytes()
    except FileNotFoundError:
        return []
    items: list[AuditEntry | Unreadable] = []
    lines = raw.split(b"\n")
    torn = lines.pop()  # after the last newline: b"" unless the last write was cut short
    for number, line in enumerate(lines, start=1):
        try:
            items.append(_parse(line))
        except (ValueError, KeyError, TypeError) as e:
            items.append(Unreadable(number, f"{type(e).__name__}: {str(e)[:80]}"))
    if torn:
        items.append(Unreadable(len(lines) + 1, "a torn last line, without its newline"))
    return items


class ChainWriter:
    """The chain while its lock is held (ChainFile.writing): read its end, append to it."""

    def __init__(self, directory: Path, fd: int, key: bytes) -> None:
        self.directory, self.fd, self.key = directory, fd, key
        self.last: AuditEntry | None = None

    def open_end(self) -> AuditEntry | None:
        """The last entry, after checking the chain against its signed head; raises
        AuditChainBroken. Adopts one entry written just before a crash (`adopted`)."""
        self._cut_torn_line()
        last = self._last_entry()
        head = read_head(self.directory)
        self.adopted: AuditEntry | None = None
        if head is None and not (self.directory / HEAD_FILE).exists():
            head = sign_head(None, self.key)  # a new chain (or a crash before its first head)
        if head is None:
            raise AuditChainBroken("the audit chain's head is unreadable: run `clickpath audit"
                                   " verify`")
        if not head_is_signed(head, self.key):
            raise AuditChainBroken("the audit chain's head is not signed with CLICKPATH_AUDIT_KEY")
        last_seq, last_hash = (last.seq, last.hash) if last else (0, head.hash if head.seq == 0 else "")
        if (last_seq, last_hash) == (head.seq, head.hash):
            self.last = last
            return last
        if (last is not None and last.seq == head.seq + 1 and last.prev_hash == head.hash
                and recomputed_hash(last) == last.hash):
            log.warning("audit_tail_adopted", seq=last.seq)
            self.adopted = self.last = last
            return last
        raise AuditChainBroken(f"the audit chain ends at seq {last_seq}, its signed head names seq"
                               f" {head.seq}: run `clickpath audit verify`")

    def append(self, entry: AuditEntry) -> None:
        line = json.dumps(entry.to_json(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode() + b"\n"
        written = os.write(self.fd, line)
        if written != len(line):  # a full disk mid-line: cut it, as a crash's torn line would be
            os.ftruncate(self.fd, os.fstat(self.fd).st_size - written)
            raise OSError(f"audit chain: wrote {written} of {len(line)} bytes")
        os.fsync(self.fd)
        self.last = entry

    def sign(self) -> None:
        write_json_atomic(self.directory / HEAD_FILE, sign_head(self.last, self.key).to_json(),
                          fsync=True)

    def last_of(self, kind: str, subject: str) -> AuditEntry | None:
        """The last readable entry of `kind` about `subject` (config.changed's last digest). Lines
        are written with sorted keys and no spaces, so only those naming both are parsed."""
        wanted_kind = b'"kind":' + json.dumps(kind).encode()
        wanted_subject = b'"subject":' + json.dumps(subject, ensure_ascii=False).encode()
        found: AuditEntry | None = None
        with open(self.directory / CHAIN_FILE, "rb") as f:
            for line in f:
                if wanted_kind in line and wanted_subject in line:
                    try:
                        entry = _parse(line)
                    except (ValueError, KeyError, TypeError):
                        continue
                    if entry.kind == kind and entry.subject == subject:
                        found = entry
        return found

    def _cut_torn_line(self) -> None:
        size = os.fstat(self.fd).st_size
        if size == 0 or os.pread(self.fd, 1, size - 1) == b"\n":
            return
        end = self._line_start(size)
        log.warning("audit_torn_line_cut", bytes=size - end)
        os.ftruncate(self.fd, end)
        os.fsync(self.fd)

    def _line_start(self, end: int) -> int:
        """Where the line ending at `end` (exclusive; its newline not included) starts."""
        position = end
        while position > 0:
            start = max(0, position - _TAIL_CHUNK)
            newline = os.pread(self.fd, position - start, start).rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            position = start
        return 0

    def _last_entry(self) -> AuditEntry | None:
        size = os.fstat(self.fd).st_size
        if size == 0:
            return None
        start = self._line_start(size - 1)
        line = os.pread(self.fd, size - 1 - start, start)
        try:
            return _parse(line)
        except (ValueError, KeyError, TypeError):
            raise AuditChainBroken("the audit chain's last line is not an entry: run `clickpath"
                                   " audit verify`") from None


class ChainFile:
    """The chain of one data directory, for appending (`writing`) and reading."""

    def __init__(self, directory: Path, key: bytes) -> None:
        self.directory, self.key = directory, key
        self._thread_lock = threading.Lock()  # threads of one process, besides flock

    @contextmanager
    def writing(self) -> Iterator[ChainWriter]:
        """The chain locked against every other writer of the host for one append."""
        made = not self.directory.is_dir()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if made:
            sync_dir(self.directory.parent)
        with self._thread_lock, open(self.directory / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
            fd = os.open(self.directory / CHAIN_FILE, flags, 0o600)
            try:
                yield ChainWriter(self.directory, fd, self.key)
            finally:
                os.close(fd)

    def read(self) -> tuple[list[AuditEntry | Unreadable], Head | None]:
        return read_chain(self.directory), read_head(self.directory)

