"""The broker journal's file format, its torn-tail handling and the offset capping: what a restart
of `clickpath up` restores depends on each (infra/broker_journal.py, broker_restore.py)."""

from __future__ import annotations

import json
import zlib

import pytest

from clickpath.infra import broker_restore
from clickpath.infra.broker_journal import (
    MAGIC,
    JournalDir,
    JournalError,
    JournalRecord,
    Scan,
    cap_offsets,
    decode_body,
    encode_frame,
    offsets_from_json,
    offsets_to_json,
    read_records,
    scan_file,
)
from clickpath.infra.broker_restore import (
    PreviousStop,
    Restored,
    RestoreFailed,
    cut_torn_tails,
    inspect_journal,
)

RECORDS = [
    JournalRecord(0, 1700000000000, b"brand:p1", b"\x00avro", (("h", b"x"), ("none", None))),
    JournalRecord(1, -1, None, None),
    JournalRecord(2, 1700000000002, b"", b"", (("", b""),)),
    JournalRecord(3, 5, b"k" * 70000, bytes(range(256)) * 300),
]


def write(path, records, tail: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MAGIC + b"".join(encode_frame(r) for r in records) + tail)


def test_every_field_comes_back_as_written(tmp_path) -> None:
    for record in RECORDS:
        frame = encode_frame(record)
        assert decode_body(frame[8:]) == record
    path = tmp_path / "0.rec"
    write(path, RECORDS)
    assert scan_file(path).count == 4 and scan_file(path).torn_bytes == 0
    assert list(read_records(path, 4)) == RECORDS
    assert list(read_records(path, 2)) == RECORDS[:2]


def test_a_frame_is_length_crc_then_body() -> None:
    frame = encode_frame(RECORDS[1])
    length, crc = int.from_bytes(frame[:4], "big"), int.from_bytes(frame[4:8], "big")
    body = frame[8:]
    assert length == len(body) and crc == zlib.crc32(body)
    # offset, timestamp, null key, null value, no headers
    assert body == (1).to_bytes(8, "big") + (-1).to_bytes(8, "big", signed=True) \
        + b"\xff\xff\xff\xff" * 2 + b"\x00\x00"


@pytest.mark.parametrize("cut", [1, 5, 9, 20])
def test_a_torn_tail_ends_the_scan_after_the_last_whole_frame(tmp_path, cut: int) -> None:
    path = tmp_path / "0.rec"
    whole = MAGIC + b"".join(encode_frame(r) for r in RECORDS[:3])
    path.write_bytes(whole + encode_frame(RECORDS[3])[:cut])  # what a kill mid-write leaves
    scan = scan_file(path)
    assert (scan.count, scan.good_bytes, scan.torn_bytes) == (3, len(whole), cut)


def test_a_damaged_frame_or_an_offset_gap_stops_the_scan(tmp_path) -> None:
    path = tmp_path / "0.rec"
    frames = [bytearray(encode_frame(r)) for r in RECORDS[:3]]
    frames[1][-1] ^= 0xFF  # one flipped byte: the CRC tells
    path.write_bytes(MAGIC + b"".join(frames))
    assert scan_file(path).count == 1
    write(path, [RECORDS[0], RECORDS[2]])  # offsets 0, 2: frame i must hold offset i
    assert scan_file(path).count == 1


@pytest.mark.parametrize("start", [b"", MAGIC[:3]])
def test_a_file_killed_before_its_first_record_holds_nothing(tmp_path, start: bytes) -> None:
    path = tmp_path / "0.rec"
    path.write_bytes(start)
    assert scan_file(path) == Scan(0, 0, len(start))


def test_an_absent_file_holds_nothing_and_a_foreign_file_is_refused(tmp_path) -> None:
    assert scan_file(tmp_path / "none.rec").count == 0
    (tmp_path / "x.rec").write_bytes(b"something else")
    with pytest.raises(JournalError, match="not a clickpath broker journal file"):
        scan_file(tmp_path / "x.rec")


def test_offsets_are_capped_at_what_the_journal_holds() -> None:
    held = {("events", 0): 10, ("events", 1): 4, ("changelog", 0): 0}
    committed = {
        "clickpath-streams": {("events", 0): 7, ("events", 1): 9, ("changelog", 0): 3},
        "clickpath.sink-clickhouse": {("canonical", 0): 5},  # a topic not journaled yet
        "reader": {("events", 0): -1001},  # librdkafka's "no offset"
    }
    assert cap_offsets(committed, held) == {"clickpath-streams": {("events", 0): 7, ("events", 1): 4}}


def test_offsets_survive_their_json_form() -> None:
    groups = {"g": {("t", 1): 5, ("t", 0): 2}, "h": {("u", 3): 1}}
    assert offsets_from_json(json.loads(json.dumps(offsets_to_json(groups)))) == groups


def journal_with(tmp_path, records, tail: bytes = b"", clean: bool = True) -> JournalDir:
    journal = JournalDir(tmp_path / "broker")
    journal.begin("2026-01-01T00:00:00")
    journal.topics_file.write_text(json.dumps({"events": 2}))
    write(journal.partition_file("events", 0), records, tail)
    journal.write_offsets("2026-01-01T10:00:01.250+00:00", {"g": {("events", 0): 2}})
    if clean:
        journal.clean_stop.write_text(json.dumps({"records": len(records)}))
    return journal


def test_a_killed_runs_torn_tail_is_cut_off_and_said(tmp_path) -> None:
    journal = journal_with(tmp_path, RECORDS[:2], tail=b"\x00\x00\x01", clean=False)
    topics, held, previous = inspect_journal(journal)
    assert topics == {"events": 2} and held == {("events", 0): 2, ("events", 1): 0}
    assert previous.torn == {("events", 0): 3} and not previous.clean
    assert scan_file(journal.partition_file("events", 0)).torn_bytes == 3  # not cut yet
    cut_torn_tails(journal, previous.torn)
    assert scan_file(journal.partition_file("events", 0)) == Scan(2, scan_file(
        journal.partition_file("events", 0)).good_bytes, 0)
    text = previous.describe()
    assert text.startswith("NOT clean — ")
    assert "events accepted then may be missing from the stream state" in text
    assert "consumers resume from their offsets of 10:00:01.250 UTC" in text
    assert "a torn record (3 bytes) was dropped from the end of 1 partition file(s)" in text


def test_a_clean_stops_journal_must_read_whole(tmp_path) -> None:
    journal = journal_with(tmp_path, RECORDS[:2], tail=b"\x00\x00\x01", clean=True)
    with pytest.raises(JournalError, match="although the last stop was clean"):
        inspect_journal(journal)
    journal = journal_with(tmp_path / "b", RECORDS[:2])
    journal.clean_stop.write_text(json.dumps({"records": 5}))
    with pytest.raises(JournalError, match="says 5 records, the files hold 2"):
        inspect_journal(journal)


def test_a_journal_of_another_format_is_refused(tmp_path) -> None:
    journal = journal_with(tmp_path, RECORDS[:1])
    journal.meta.write_text(json.dumps({"format": 99}))
    with pytest.raises(JournalError, match="format 99"):
        inspect_journal(journal)


def test_the_restore_line_says_what_came_back() -> None:
    restored = Restored(1200, 14, {}, 3, 0.5, PreviousStop(True, None, None))
    assert restored.summary("/d/broker") == (
        "restored 1200 records of 14 topics from /d/broker (previous stop: clean)"
        " in 0.5 s, 2,400 records/s; offsets of 3 consumer groups"
    )


@pytest.mark.parametrize("leftover", ["topics.json", "offsets.json", "records/events/0.rec"])
def test_a_journal_dir_without_journal_json_but_with_contents_is_not_begun(tmp_path,
                                                                            leftover) -> None:
    journal = JournalDir(tmp_path / "broker")
    path = journal.root / leftover
    path.parent.mkdir(parents=True)
    path.write_bytes(MAGIC if leftover.endswith(".rec") else b"{}")
    with pytest.raises(JournalError, match="no journal.json, but it holds"):
        journal.begin("2026-01-01T00:00:00")
    assert not journal.meta.exists()
    fresh = JournalDir(tmp_path / "fresh")
    fresh.begin("2026-01-01T00:00:00")
    fresh.begin("2026-01-01T00:00:01")  # begun twice: the second keeps the first
    assert json.loads(fresh.meta.read_text())["begun_at"] == "2026-01-01T00:00:00"


@pytest.mark.parametrize("fails", [True, False])
def test_a_torn_tail_is_cut_only_once_the_restore_succeeded(tmp_path, monkeypatch, fails) -> None:
    journal = journal_with(tmp_path, RECORDS[:2], tail=b"\x00\x00\x01", clean=False)
    path = journal.partition_file("events", 0)
    before = path.read_bytes()

    def create(admin, topics) -> None:
        if fails:
            raise RuntimeError("topics not created as journaled")

    monkeypatch.setattr(broker_restore, "_create_topics", create)
    monkeypatch.setattr(broker_restore, "_produce_back", lambda *a: None)
    monkeypatch.setattr(broker_restore, "_check_ends", lambda *a: None)
    monkeypatch.setattr(broker_restore, "commit_offsets", lambda *a: None)
    if fails:
        with pytest.raises(RestoreFailed, match="not created"):
            broker_restore.restore(journal, "127.0.0.1:1")
        assert path.read_bytes() == before  # "the journal is left as it was"
    else:
        restored = broker_restore.restore(journal, "127.0.0.1:1")
        assert restored.previous.torn == {("events", 0): 3}
        assert path.read_bytes() == before[:-3]
