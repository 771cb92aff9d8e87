"""Import files into numbered records, and those records into events through parse_event."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from clickpath.connectors.importer.files import FileFormatError, SourceRecord, detect_format, read_records
from clickpath.connectors.ingress import Rejection, parse_event
from clickpath.contracts.models import Consent, Deposit, Registration

KEY = b"unit-key"
DEPOSIT = {
    "event_type": "deposit", "event_id": "d-1", "occurred_at": "2026-01-05T10:10:00Z",
    "brand_id": "luckyspin", "player_id": "p-1", "transaction_id": "tx-1", "amount": "25.00",
    "currency": "EUR",
}


def records(data: bytes, fmt: str = "jsonl", **kwargs: int) -> list[SourceRecord]:
    return list(read_records(io.BytesIO(data), fmt, **kwargs))  # type: ignore[arg-type]


def event(record: SourceRecord):
    assert record.rejection is None, record.rejection
    return parse_event(record.data, pseudonym_key=KEY, source="import")


def rejection(record: SourceRecord) -> Rejection:
    if record.rejection is not None:
        return record.rejection
    with pytest.raises(Rejection) as e:
        parse_event(record.data, pseudonym_key=KEY, source="import")
    return e.value


@pytest.mark.parametrize(("name", "fmt"), [("a.jsonl", "jsonl"), ("A.NDJSON", "jsonl"), ("x.csv", "csv")])
def test_format_from_the_extension(name: str, fmt: str) -> None:
    assert detect_format(Path(name)) == fmt


def test_an_unknown_extension_asks_for_format() -> None:
    with pytest.raises(FileFormatError, match="--format"):
        detect_format(Path("history.json"))


# --- JSONL ------------------------------------------------------------------------------------


def test_jsonl_lines_are_numbered_and_offsets_end_each_line() -> None:
    lines = [json.dumps(DEPOSIT), "", "  ", json.dumps({**DEPOSIT, "event_id": "d-2"})]
    data = "\n".join(lines).encode() + b"\n"
    got = records(data)
    assert [r.line for r in got] == [1, 2, 3, 4]
    assert [r.blank for r in got] == [False, True, True, False]
    assert got[-1].end == len(data)
    assert got[0].end == len(lines[0]) + 1
    assert event(got[3]).event_id == "d-2"


def test_jsonl_bom_crlf_and_missing_final_newline() -> None:
    data = b"\xef\xbb\xbf" + json.dumps(DEPOSIT).encode() + b"\r\n" + json.dumps(DEPOSIT).encode()
    got = records(data)
    assert [event(r).event_id for r in got] == ["d-1", "d-1"]
    assert got[-1].end == len(data)


def test_jsonl_broken_lines_are_rejected_with_their_line_and_the_rest_go_on() -> None:
    data = b"\n".join([
        json.dumps(DEPOSIT).encode(),
        b'{"event_type": "deposit",',
        b"\xff\xfe not utf-8",
        b"[1, 2]",
        json.dumps({**DEPOSIT, "amount": "lots"}).encode(),
        json.dumps({**DEPOSIT, "event_type": "jackpot"}).encode(),
        json.dumps({**DEPOSIT, "ip": "10.0.0.1"}).encode(),
        json.dumps(DEPOSIT).encode(),
    ])
    got = records(data)
    assert rejection(got[1]).reason.startswith("not valid JSON")
    assert rejection(got[2]).reason.startswith("not valid UTF-8")
    assert rejection(got[3]) == Rejection("", "an event must be a JSON object, not list")
    assert rejection(got[4]) == Rejection("amount", "Input should be a valid decimal")
    assert rejection(got[5]).field == "event_type"
    assert rejection(got[6]) == Rejection("ip", "not accepted on a deposit event")
    assert [r.line for r in got] == list(range(1, 9))
    assert isinstance(event(got[7]), Deposit)


def test_jsonl_resumes_at_an_offset_with_the_next_line_number() -> None:
    lines = [json.dumps({**DEPOSIT, "event_id": f"d-{i}"}) for i in range(1, 6)]
    data = ("\n".join(lines) + "\n").encode()
    first = records(data)
    resumed = records(data, start_line=2, start_offset=first[1].end)
    assert [(r.line, r.end) for r in resumed] == [(r.line, r.end) for r in first[2:]]
    assert [event(r).event_id for r in resumed] == ["d-3", "d-4", "d-5"]


def test_jsonl_stops_at_the_fingerprinted_size() -> None:
    line = json.dumps(DEPOSIT).encode() + b"\n"
    got = records(line * 3 + b'{"appended": "later"}\n', size=len(line) * 3)
    assert len(got) == 3 and got[-1].end == len(line) * 3


def test_jsonl_raw_identifiers_are_pseudonymised_by_parse_event() -> None:
    reg = {**DEPOSIT, "event_type": "registration", "email": "Ann@Example.com", "ip": "203.0.113.7"}
    for key in ("transaction_id", "amount", "currency"):
        reg.pop(key)
    got = event(records(json.dumps(reg).encode())[0])
    assert isinstance(got, Registration)
    assert got.email_hash and got.ip_hash and got.ip_prefix == "203.0.0.0/16"
    dumped = got.model_dump_json()
    assert "Ann@Example.com".lower() not in dumped.lower() and "203.0.113.7" not in dumped


# --- CSV --------------------------------------------------------------------------------------

HEADER = "event_type,event_id,occurred_at,brand_id,player_id,purpose,granted,transaction_id,amount,currency"


def csv_records(*rows: str, **kwargs: int) -> list[SourceRecord]:
    return records(("\n".join([HEADER, *rows]) + "\n").encode(), "csv", **kwargs)


def test_csv_empty_cells_are_absent_and_strings_are_coerced() -> None:
    got = csv_records(
        "consent,c-1,2026-01-05T10:00:00Z,luckyspin,p-1,marketing_email,true,,,",
        "consent,c-2,2026-01-05 11:00:00+01:00,luckyspin,p-1,profiling,0,,,",
        "deposit,d-1,2026-01-05T10:00:00.250Z,luckyspin,p-1,,,tx-1,25.50,EUR",
    )
    assert [r.line for r in got] == [2, 3, 4]
    c1, c2, d1 = (event(r) for r in got)
    assert isinstance(c1, Consent) and c1.granted is True
    assert isinstance(c2, Consent) and c2.granted is False
    assert c2.occurred_at.utcoffset().total_seconds() == 3600
    assert isinstance(d1, Deposit) and d1.amount == Decimal("25.50") and d1.occurred_at.microsecond == 250000
    assert "amount" not in got[0].data and "transaction_id" not in got[0].data


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ("consent,c-3,2026-01-05T10:00:00Z,luckyspin,p-1,profiling,maybe,,,", "granted",
         "Input should be a valid boolean, unable to interpret input"),
        ("deposit,d-2,2026-01-05T10:00:00,luckyspin,p-1,,,tx-2,10,EUR", "occurred_at",
         "Input should have timezone info"),
        ("deposit,d-3,5 Jan 2026,luckyspin,p-1,,,tx-3,10,EUR", "occurred_at",
         "Input should be a valid datetime or date, invalid character in year"),
        ('deposit,d-4,2026-01-05T10:00:00Z,luckyspin,p-1,,,tx-4,"1,50",EUR', "amount",
         "Input should be a valid decimal"),
        ("deposit,d-5,2026-01-05T10:00:00Z,luckyspin,p-1,,,tx-5,10.12345,EUR", "amount",
         "Decimal input should have no more than 4 decimal places"),
        ("deposit,d-6,2026-01-05T10:00:00Z,luckyspin,p-1,,,tx-6,10,XXY", "currency", None),
        ("deposit,d-7,2026-01-05T10:00:00Z,luckyspin,p-1,profiling,,tx-7,10,EUR", "purpose",
         "unknown field for a deposit event"),
        ("deposit,d-8,2026-01-05T10:00:00Z,luckyspin,p-1,,,,10,EUR", "transaction_id", "Field required"),
    ],
)
def test_csv_values_that_do_not_coerce_are_rejected(row: str, field: str, reason: str | None) -> None:
    (record,) = csv_records(row)
    got = rejection(record)
    assert got.field == field
    if reason is not None:
        assert got.reason == reason


def test_csv_quoted_cells_may_span_lines_and_numbering_follows_physical_lines() -> None:
    header = "event_type,event_id,occurred_at,brand_id,player_id,kind,action,reason,chargeback_id"
    data = (
        f"{header}\n"
        'kyc,k-1,2026-01-05T10:00:00Z,b,p-1,,,,\n'
        'chargeback,cb-1,2026-01-05T10:00:00Z,b,p-1,,,"disputed,\nsecond line",cb\n'
        "kyc,k-2,2026-01-05T10:00:00Z,b,p-1,,,,\n"
    ).encode()
    got = records(data, "csv")
    assert [r.line for r in got] == [2, 3, 5]
    assert got[1].data["reason"] == "disputed,\nsecond line"
    assert got[-1].end == len(data)


def test_csv_rows_of_the_wrong_width_and_bad_bytes_are_rejected_alone() -> None:
    got = csv_records(
        "deposit,d-1,2026-01-05T10:00:00Z,luckyspin,p-1,,,tx-1,1,50,EUR",
        ",,,,,,,,,",
        "deposit,d-3,2026-01-05T10:00:00Z,luckyspin,p-1,,,tx-3,1,EUR",
    )
    assert rejection(got[0]) == Rejection("", "the row has 11 cells, the header 10 (an unquoted comma?)")
    assert got[1].blank
    assert event(got[2]).event_id == "d-3"
    raw = (HEADER + "\ndeposit,d-2,2026-01-05T10:00:00Z,luck").encode() + b"\xff" + b"spin,p-1,,,tx-2,1,EUR\n"
    (bad,) = records(raw, "csv")
    assert bad.rejection == Rejection("brand_id", "not valid UTF-8")


def test_csv_resumes_after_the_header_at_an_offset() -> None:
    rows = [f"deposit,d-{i},2026-01-05T10:00:00Z,luckyspin,p-1,,,tx-{i},1,EUR" for i in range(1, 5)]
    data = ("\n".join([HEADER, *rows]) + "\n").encode()
    first = records(data, "csv")
    resumed = records(data, "csv", start_line=first[1].line, start_offset=first[1].end)
    assert [(r.line, r.end) for r in resumed] == [(r.line, r.end) for r in first[2:]]
    assert [event(r).event_id for r in resumed] == ["d-3", "d-4"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"event_type,,brand_id\n", "column 2 has no field name"),
        (b"event_type,brand_id,event_type\n", "names event_type more than once"),
    ],
)
def test_csv_without_a_usable_header_cannot_be_imported(data: bytes, message: str) -> None:
    with pytest.raises(FileFormatError, match=message):
        records(data, "csv")


class _Measured(io.BytesIO):
    """A file that notes the longest piece any read handed out (the memory one line can take)."""

    longest = 0

    def _note(self, piece: bytes) -> bytes:
        self.longest = max(self.longest, len(piece))
        return piece

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        return self._note(super().readline(size))

    def __next__(self) -> bytes:
        return self._note(super().__next__())


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_over_long_line_is_rejected_by_number_and_never_read_whole(fmt) -> None:
    """Issue 21 item 26: the importer read a line of any length into memory."""
    good = json.dumps(DEPOSIT) if fmt == "jsonl" else "event_id,player_id\nd-1,p-1"
    huge = ('{"event_id": "' + "x" * 5_000_000 + '"}') if fmt == "jsonl" else "d-2," + "y" * 5_000_000
    tail = json.dumps({**DEPOSIT, "event_id": "d-3"}) if fmt == "jsonl" else "d-3,p-3"
    data = f"{good}\n{huge}\n{tail}\n".encode()
    stream = _Measured(data)
    got = list(read_records(stream, fmt, max_line_bytes=65536))  # type: ignore[arg-type]
    bad = [r for r in got if r.rejection is not None]
    assert [r.line for r in bad] == [3 if fmt == "csv" else 2]
    assert "over the limit of 65,536" in bad[0].rejection.reason  # type: ignore[union-attr]
    assert got[-1].rejection is None and got[-1].data["event_id"] == "d-3"
    assert got[-1].end == len(data), "offsets still count every byte"
    assert stream.longest <= 65536


def test_the_default_line_limit_takes_a_large_event() -> None:
    from clickpath.connectors.importer.files import MAX_LINE_BYTES

    line = json.dumps({**DEPOSIT, "attributes": {"note": "z" * 500_000}})
    assert len(line) < MAX_LINE_BYTES
    [record] = records(line.encode() + b"\n")
    assert record.rejection is None
    [exact] = records(b"1" * 8 + b"\n", max_line_bytes=9)  # the newline counts, and fits
    assert exact.rejection is None
    [last] = records(b"1" * 9, max_line_bytes=9)  # a last line without newline, exactly the limit
    assert last.rejection is None and last.data == 111111111
