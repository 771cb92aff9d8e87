"""Read an import file (JSONL or CSV) into numbered raw events, for `clickpath import`.

Only the file's shape is decided here: one JSON object per line, or a CSV header and rows whose
empty cells mean "absent". What makes a valid event is `clickpath.connectors.ingress.parse_event`'s to say,
as for every other door, so nothing here looks at field names or values. Each record carries
the line it starts on (what an operator needs to fix it) and the byte offset just after it (what
the checkpoint stores), so a later run can seek straight past what an earlier one finished.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from clickpath.connectors.ingress import Rejection

# The longest line read (newline included): an over-long line is a rejection naming its line
# number, skipped in pieces of this size, so one 10 GB line never sits in memory (docs/import.md).
MAX_LINE_BYTES = 1024 * 1024

Format = Literal["jsonl", "csv"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv")
EXTENSIONS: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_BOM = b"\xef\xbb\xbf"


class FileFormatError(ValueError):
    """The file cannot be read as its format at all (no CSV header, unknown extension)."""


@dataclass(frozen=True)
class SourceRecord:
    """One record of the file: `data` for parse_event, or why it was refused before that.

    A blank line is a record with neither (so that offsets still advance past it).
    """

    line: int
    end: int
    data: Any = None
    rejection: Rejection | None = None

    @property
    def blank(self) -> bool:
        return self.data is None and self.rejection is None


def detect_format(path: Path) -> Format:
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(EXTENSIONS)
        raise FileFormatError(
            f"cannot tell the format of {path.name} from its extension ({known}): "
            "pass --format jsonl or --format csv"
        )
    return fmt


def read_records(
    stream: BinaryIO,
    fmt: Format,
    *,
    start_line: int = 0,
    start_offset: int = 0,
    size: int | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[SourceRecord]:
    """The records after `start_offset` (the end of line `start_line`), up to byte `size`.

    `size` is the size the file was fingerprinted at: bytes appended while an import runs
    belong to a different file version and are not read. A line over `max_line_bytes` is a
    rejected record (a CSV record with such a line, the whole record).
    """
    if fmt == "jsonl":
        return _read_jsonl(stream, start_line, start_offset, size, max_line_bytes)
    if fmt == "csv":
        return _read_csv(stream, start_line, start_offset, size, max_line_bytes)
    raise FileFormatError(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}")


@dataclass(frozen=True)
class _Overlong:
    """A line over the limit, skipped: only its length (newline included) is kept."""

    length: int

    def rejection(self, limit: int) -> Rejection:
        return Rejection("", f"the line has {self.length:,} bytes, over the limit of {limit:,}")


def _raw_lines(stream: BinaryIO, offset: int, size: int | None, limit: int) -> Iterator[bytes | _Overlong]:
    """The file's lines from `offset`, none read past `limit` bytes: `readline` with a bound,
    never the stream's own line iterator (which reads a line whole, however long)."""
    stream.seek(offset)
    remaining = None if size is None else size - offset

    def read() -> bytes:
        nonlocal remaining
        if remaining is not None and remaining <= 0:
            return b""
        raw = stream.readline(limit if remaining is None else min(limit, remaining))
        if remaining is not None:
            remaining -= len(raw)
        return raw

    while raw := read():
        if len(raw) < limit or raw.endswith(b"\n"):
            yield raw
            continue
        length, piece = len(raw), read()
        if not piece:  # a last line of exactly `limit` bytes, with no newline
            yield raw
            return
        while piece:
            length += len(piece)
            if piece.endswith(b"\n"):
                break
            piece = read()
        yield _Overlong(length)


def _read_jsonl(
    stream: BinaryIO, line: int, offset: int, size: int | None, limit: int
) -> Iterator[SourceRecord]:
    for raw in _raw_lines(stream, offset, size, limit):
        line += 1
        if isinstance(raw, _Overlong):
            offset += raw.length
            yield SourceRecord(line, offset, rejection=raw.rejection(limit))
            continue
        offset += len(raw)
        text = raw.removeprefix(_BOM) if line == 1 else raw
        text = text.strip()
        if not text:
            yield SourceRecord(line, offset)
            continue
        try:
            data = json.loads(text.decode("utf-8"))
        except UnicodeDecodeError as e:
            yield SourceRecord(line, offset, rejection=Rejection("", f"not valid UTF-8 (byte {e.start + 1})"))
        except json.JSONDecodeError as e:
            yield SourceRecord(
                line, offset, rejection=Rejection("", f"not valid JSON: {e.msg} (column {e.colno})")
            )
        except RecursionError:
            yield SourceRecord(line, offset, rejection=Rejection("", "not valid JSON: nested too deeply"))
        else:
            yield SourceRecord(line, offset, data=data)


class _LineFeed:
    """Decoded lines for `csv.reader`, counting lines and bytes as the reader pulls them.

    The reader pulls exactly the lines of one record per row (a quoted cell may span lines), so
    after each row `line` and `offset` are where that record ends.
    """

    def __init__(self, stream: BinaryIO, offset: int, size: int | None, line: int, limit: int) -> None:
        self._raw = _raw_lines(stream, offset, size, limit)
        self.offset = offset
        self.line = line
        self.overlong: _Overlong | None = None  # the first over-long line of the current record

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        raw = next(self._raw)
        self.line += 1
        if isinstance(raw, _Overlong):  # the reader sees a line end; the record is rejected
            self.offset += raw.length
            self.overlong = self.overlong or raw
            return "\n"
        self.offset += len(raw)
        if self.line == 1:
            raw = raw.removeprefix(_BOM)
        # Undecodable bytes survive as lone surrogates, so that one bad row is rejected
        # on its own instead of stopping the reader.
        return raw.decode("utf-8", "surrogateescape")


def _read_csv(
    stream: BinaryIO, line: int, offset: int, size: int | None, limit: int
) -> Iterator[SourceRecord]:
    feed = _LineFeed(stream, 0, size, 0, limit)
    reader = csv.reader(feed)
    header = _header(reader)
    if feed.overlong is not None:
        raise FileFormatError(f"line 1: the CSV header is over the limit of {limit:,} bytes")
    if offset > feed.offset:  # resuming: the header is read, now jump past what is done
        feed = _LineFeed(stream, offset, size, line, limit)
        reader = csv.reader(feed)
    while True:
        first = feed.line + 1
        feed.overlong = None
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            if feed.overlong is not None:
                yield SourceRecord(first, feed.offset, rejection=feed.overlong.rejection(limit))
                continue
            yield SourceRecord(first, feed.offset, rejection=Rejection("", f"not valid CSV: {e}"))
            continue
        if feed.overlong is not None:
            yield SourceRecord(first, feed.offset, rejection=feed.overlong.rejection(limit))
            continue
        if all(cell == "" for cell in row):
            yield SourceRecord(first, feed.offset)
            continue
        yield _csv_record(first, feed.offset, header, row)


def _header(reader: Any) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise FileFormatError("the file is empty: a CSV import needs a header row of field names") from None
    except csv.Error as e:
        raise FileFormatError(f"line 1: the CSV header cannot be read: {e}") from None
    names = [name.strip() for name in header]
    for column, name in enumerate(names, start=1):
        if not name:
            raise FileFormatError(f"line 1: CSV header column {column} has no field name")
        if not _is_utf8(name):
            raise FileFormatError(f"line 1: CSV header column {column} is not valid UTF-8")
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise FileFormatError(f"line 1: the CSV header names {', '.join(duplicated)} more than once")
    return names


def _csv_record(line: int, end: int, header: list[str], row: list[str]) -> SourceRecord:
    if len(row) != len(header):
        return SourceRecord(
            line,
            end,
            rejection=Rejection(
                "", f"the row has {len(row)} cells, the header {len(header)} (an unquoted comma?)"
            ),
        )
    for name, cell in zip(header, row, strict=True):
        if not _is_utf8(cell):
            return SourceRecord(line, end, rejection=Rejection(name, "not valid UTF-8"))
    return SourceRecord(
        line, end, data={name: cell for name, cell in zip(header, row, strict=True) if cell != ""}
    )


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
