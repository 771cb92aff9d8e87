"""The embedded broker's journal: what Tansu holds in memory, kept in <data_dir>/broker/.

The embedded broker (Tansu, memory engine) forgets everything when it stops, while the embedded
ClickHouse keeps its rows; a restart would then start the stream state (dedup sets, player
state, Faust changelogs, consumer offsets, delivery state) empty next to old figures, and a
re-sent deposit would count twice. So `up` copies every record of every topic here while it
runs and produces them back, at the same offsets, before any role starts again (the keeper and
the restore are in broker_journal_keeper.py and broker_restore.py; this module is the format).

Layout of <data_dir>/broker/:
  journal.json      the format version, when the journal was begun, and its journal_id
                    (the embedded ClickHouse's dir holds the same id: CLICKHOUSE_MARKER)
  topics.json       every topic seen and its partition count
  offsets.json      every consumer group's committed offsets (written whole, atomically)
  clean-stop.json   present only after a graceful stop drained every partition
  records/<topic>/<partition>.rec   append-only frames, frame i holding offset i

A frame is `length u32 | crc32 u32 | body`, the body `offset i64 | timestamp i64 |
key | value | headers` (bytes as `i32 length, -1 for null`; headers as a `u16` count of
`u16 name length, name, value`). The length lets a reader skip nothing and stop at a torn
tail (a killed `up` may leave half a frame); the CRC tells a torn or damaged frame from a good
one. Offsets are stored so that a restore can check each record lands where it was.

Never reads or writes a broker itself: pure encoding, scanning and small JSON files.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from clickpath.infra.jsonstore import write_json_atomic

FORMAT = 1
MAGIC = b"CPJRNL1\n"  # first bytes of every partition file
_FRAME = struct.Struct(">II")  # body length, crc32 of the body
_BODY = struct.Struct(">qq")  # offset, timestamp (ms; -1: none)
_LEN = struct.Struct(">i")
_COUNT = struct.Struct(">H")
MAX_FRAME = 64 * 1024 * 1024  # far above any record the pipeline writes: beyond it, damage

TopicPartition = tuple[str, int]
Header = tuple[str, bytes | None]


class JournalError(RuntimeError):
    """The journal cannot be read or kept as it must be; says which file and why."""


@dataclass(frozen=True)
class JournalRecord:
    offset: int
    timestamp: int  # ms since the epoch, -1 when the record had none
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()


def _put_bytes(out: list[bytes], data: bytes | None) -> None:
    out.append(_LEN.pack(-1 if data is None else len(data)))
    if data is not None:
        out.append(data)


def encode_frame(record: JournalRecord) -> bytes:
    parts = [_BODY.pack(record.offset, record.timestamp)]
    _put_bytes(parts, record.key)
    _put_bytes(parts, record.value)
    parts.append(_COUNT.pack(len(record.headers)))
    for name, value in record.headers:
        raw = name.encode()
        parts += [_COUNT.pack(len(raw)), raw]
        _put_bytes(parts, value)
    body = b"".join(parts)
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def decode_body(body: bytes | memoryview) -> JournalRecord:
    """ValueError when the body is not one encode_frame wrote (struct.error is a ValueError)."""
    offset, timestamp = _BODY.unpack_from(body, 0)
    at = _BODY.size
    fields: list[bytes | None] = []
    for _ in range(2):
        (n,) = _LEN.unpack_from(body, at)
        at += 4
        if n == -1:
            fields.append(None)
            continue
        if n < 0 or at + n > len(body):
            raise ValueError("frame body too short")
        fields.append(bytes(body[at:at + n]))
        at += n
    (count,) = _COUNT.unpack_from(body, at)
    at += 2
    headers: list[Header] = []
    for _ in range(count):
        (n,) = _COUNT.unpack_from(body, at)
        name = bytes(body[at + 2:at + 2 + n]).decode()
        at += 2 + n
        (m,) = _LEN.unpack_from(body, at)
        at += 4
        if m < -1 or at + max(m, 0) > len(body):
            raise ValueError("frame body too short")
        headers.append((name, None if m == -1 else bytes(body[at:at + m])))
        at += max(m, 0)
    if at != len(body):
        raise ValueError("trailing bytes in frame body")
    return JournalRecord(offset, timestamp, fields[0], fields[1], tuple(headers))


@dataclass(frozen=True)
class Scan:
    """What one partition file holds: `count` good frames in its first `good_bytes`; whatever
    follows (`torn_bytes`) is a torn or damaged tail."""

    count: int
    good_bytes: int
    torn_bytes: int


def _frames(data: bytes | mmap.mmap, path: Path, decode: bool
            ) -> Iterator[tuple[JournalRecord | None, int]]:
    """Each good frame (decoded if `decode`) and the position after it, from the magic on;
    stops at the first frame that is short, oversize, fails its CRC, or does not hold the next
    offset (a torn tail, or damage)."""
    if data[:len(MAGIC)] != MAGIC:
        raise JournalError(f"{path}: not a clickpath broker journal file")
    view = memoryview(data)
    size, at, expected = len(data), len(MAGIC), 0
    head, body_head = _FRAME.size, _BODY.size
    try:
        while at + head <= size:
            length, crc = _FRAME.unpack_from(view, at)
            end = at + head + length
            if length < body_head or length > MAX_FRAME or end > size:
                return
            body = view[at + head:end]
            if zlib.crc32(body) != crc or _BODY.unpack_from(body, 0)[0] != expected:
                return
            record = None
            if decode:
                try:
                    record = decode_body(body)
                except ValueError:
                    return
            at, expected = end, expected + 1
            yield record, at
    finally:
        view.release()


def _mapped(f: BinaryIO) -> mmap.mmap | bytes:
    """The file's bytes without reading them all into memory (an empty file cannot be mapped)."""
    size = os.fstat(f.fileno()).st_size
    return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""


def scan_file(path: Path) -> Scan:
    """Count the good frames of a partition file (an absent file holds none)."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return Scan(0, 0, 0)
    with f:
        data = _mapped(f)
        if len(data) < len(MAGIC) and MAGIC.startswith(data):
            return Scan(0, 0, len(data))  # killed before its first record reached the file
        count, good = 0, len(MAGIC)
        try:
            for _, end in _frames(data, path, decode=False):
                count, good = count + 1, end
            return Scan(count, good, len(data) - good)
        finally:
            if isinstance(data, mmap.mmap):
                data.close()


def read_records(path: Path, count: int) -> Iterator[JournalRecord]:
    """The first `count` records of a partition file (as scan_file counted them)."""
    if count == 0:
        return
    with path.open("rb") as f:
        data = _mapped(f)
        n = 0
        try:
            for record, _ in _frames(data, path, decode=True):
                assert record is not None
                yield record
                n += 1
                if n == count:
                    return
        finally:
            if isinstance(data, mmap.mmap):
                data.close()
    raise JournalError(f"{path}: fewer than {count} records")


def cap_offsets(
    groups: Mapping[str, Mapping[TopicPartition, int]], held: Mapping[TopicPartition, int]
) -> dict[str, dict[TopicPartition, int]]:
    """Each group's committed offsets, none past what the journal holds for its partition.

    A group may have committed an offset the journal has not caught up with yet; restored as
    it was, it would point past the restored records and the group would skip whatever the
    journal later adds there. Capped, the group re-reads those records, which every stage
    takes idempotently. Offsets of nothing (<= 0, or librdkafka's negative "none") are dropped:
    no commit means 'from the start' already.
    """
    capped: dict[str, dict[TopicPartition, int]] = {}
    for group, offsets in groups.items():
        kept = {tp: min(offset, held.get(tp, 0)) for tp, offset in offsets.items()}
        kept = {tp: offset for tp, offset in kept.items() if offset > 0}
        if kept:
            capped[group] = kept
    return capped


def offsets_to_json(groups: Mapping[str, Mapping[TopicPartition, int]]) -> dict[str, Any]:
    return {g: sorted([t, p, o] for (t, p), o in offsets.items()) for g, offsets in groups.items()}


def offsets_from_json(data: Mapping[str, Any]) -> dict[str, dict[TopicPartition, int]]:
    return {g: {(str(t), int(p)): int(o) for t, p, o in rows} for g, rows in data.items()}


class JournalDir:
    """The files under <data_dir>/broker/ (paths and the small JSON files; no broker)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta = root / "journal.json"
        self.topics_file = root / "topics.json"
        self.offsets_file = root / "offsets.json"
        self.clean_stop = root / "clean-stop.json"
        self.records = root / "records"

    def exists(self) -> bool:
        return self.meta.is_file()

    def begin(self, now: str) -> None:
        """Mark the journal begun (an empty one restores to an empty broker, knowingly).

        JournalError when the dir already holds records or topics.json but no journal.json:
        the keeper would append offset-0 frames after the old ones, and the next scan would stop
        at that offset jump and drop the new frames."""
        if not self.meta.exists():
            leftovers = [p for p in (self.topics_file, self.offsets_file) if p.exists()]
            leftovers += sorted(self.records.glob("*/*.rec"))[:3]
            if leftovers:
                raise JournalError(f"{self.root}: no journal.json, but it holds"
                                   f" {', '.join(p.name for p in leftovers)}: a journal whose"
                                   " start is lost cannot be appended to")
        self.records.mkdir(parents=True, exist_ok=True)
        if not self.meta.exists():
            write_json(self.meta, {"format": FORMAT, "begun_at": now,
                                   "journal_id": uuid.uuid4().hex})

    def journal_id(self) -> str | None:
        """The id that ties the journal to its ClickHouse data (None: a journal from before
        the ids, or an unreadable journal.json, which check_format refuses)."""
        try:
            meta = json.loads(self.meta.read_text())
        except (OSError, ValueError):
            return None
        value = meta.get("journal_id") if isinstance(meta, dict) else None
        return value if isinstance(value, str) and value else None

    def give_id(self) -> str:
        """Give a journal from before the ids one (kept if it has one); the id."""
        if (have := self.journal_id()) is not None:
            return have
        meta = json.loads(self.meta.read_text())
        meta["journal_id"] = uuid.uuid4().hex
        write_json(self.meta, meta)
        return str(meta["journal_id"])

    def check_format(self) -> None:
        try:
            meta = json.loads(self.meta.read_text())
        except (OSError, ValueError) as e:
            raise JournalError(f"{self.meta}: unreadable ({e})") from None
        if meta.get("format") != FORMAT:
            raise JournalError(f"{self.meta}: format {meta.get('format')!r}, this clickpath "
                               f"reads format {FORMAT}")

    def partition_file(self, topic: str, partition: int) -> Path:
        return self.records / topic / f"{partition}.rec"

    def topics(self) -> dict[str, int]:
        return {str(t): int(n) for t, n in read_json(self.topics_file, {}).items()}

    def offsets(self) -> tuple[str | None, dict[str, dict[TopicPartition, int]]]:
        """When the snapshot was taken, and every group's offsets in it."""
        data = read_json(self.offsets_file, {})
        return data.get("taken_at"), offsets_from_json(data.get("groups", {}))

    def write_offsets(self, taken_at: str, groups: Mapping[str, Mapping[TopicPartition, int]]) -> None:
        write_json(self.offsets_file, {"taken_at": taken_at, "groups": offsets_to_json(groups)})

    def last_record_write(self) -> float | None:
        """When a record was last appended (the newest partition file's mtime), if ever."""
        times = [p.stat().st_mtime for p in self.records.glob("*/*.rec")]
        return max(times) if times else None


def read_json(path: Path, empty: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return empty
    except ValueError as e:
        raise JournalError(f"{path}: not JSON ({e})") from None


def write_json(path: Path, data: Any) -> None:
    """Replace `path` in one step, durably: a reader (or a restart after a crash) sees the old
    content or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data, indent=1, mode=0o600, fsync=True)


def journal_dir(data_dir: Path) -> JournalDir:
    """The journal of the embedded broker that `up` runs on `data_dir`."""
    return JournalDir(data_dir / "broker")
