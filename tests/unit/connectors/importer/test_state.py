"""Checkpoint decisions of `clickpath import`: resume points, crash windows, duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickpath.connectors.importer.state import (
    Checkpoint,
    CheckpointStore,
    Counts,
    FileIdentity,
    ImportLocked,
    Ledger,
    LedgerEntry,
    Outcome,
    checkpoint_key,
    classify,
    fingerprint,
    target_of,
)
from clickpath.settings import Settings

IDENTITY = FileIdentity(size=1000, sha256="ab" * 32)
BASE = {"t.ingress.events": {0: 10, 1: 20}}
LATER = {"t.ingress.events": {0: 15, 1: 40}}


def fresh(batch_lines: int = 100) -> Checkpoint:
    cp = Checkpoint.new("k1", Path("/data/h.jsonl"), IDENTITY, "jsonl", "b:9092/t", None, "import",
                        Path("/data/h.jsonl.rejected.jsonl"))
    return cp.begin(batch_lines, BASE)


def test_a_fresh_run_records_the_partition_ends_and_is_unclean_until_it_finishes() -> None:
    cp = fresh()
    assert not cp.clean and cp.recover_until_line is None and cp.positions == BASE
    cp = cp.advance(100, 5000, Counts(imported=90, rejected=10), LATER, rejects_size=300)
    assert (cp.line, cp.offset, cp.positions, cp.rejects_size) == (100, 5000, LATER, 300)
    assert (cp.counts.imported, cp.counts.rejected) == (90, 10)
    cp = cp.advance(150, 7000, Counts(imported=40, duplicates_in_file=10), LATER, rejects_size=300)
    assert cp.counts == Counts(imported=130, duplicates_in_file=10, rejected=10)
    done = cp.finish(complete=True)
    assert done.complete and done.clean


def test_after_a_crash_the_window_is_one_batch_past_the_checkpoint_and_old_positions_stay() -> None:
    crashed = fresh(batch_lines=100).advance(300, 9000, Counts(imported=300), LATER, 0)  # then killed
    resumed = crashed.begin(batch_lines=50, positions={"t.ingress.events": {0: 99, 1: 99}})
    assert resumed.recover_until_line == 400
    assert resumed.positions == LATER  # where the crashed run's unconfirmed records may start
    assert resumed.recovering(301) and resumed.recovering(400) and not resumed.recovering(401)
    inside = resumed.advance(350, 10000, Counts(imported=50), {"t.ingress.events": {0: 120, 1: 130}}, 0)
    assert inside.positions == LATER and inside.recover_until_line == 400
    past = inside.advance(400, 11000, Counts(imported=50), {"t.ingress.events": {0: 140, 1: 150}}, 0)
    assert past.recover_until_line is None and past.positions == {"t.ingress.events": {0: 140, 1: 150}}
    assert past.finish(complete=False).clean


def test_stopping_inside_a_crash_window_leaves_it_for_the_next_run_to_check() -> None:
    crashed = fresh(batch_lines=100).advance(300, 9000, Counts(imported=300), LATER, 0)
    stopped = crashed.begin(50, BASE).advance(320, 9500, Counts(imported=20), BASE, 0).finish(complete=False)
    assert not stopped.clean and stopped.recover_until_line == 400 and stopped.positions == LATER
    again = stopped.begin(50, BASE)
    assert again.recover_until_line == 400 and again.positions == LATER  # max(400, 320 + 50)


def test_a_second_crash_extends_the_window_from_the_first_crash_positions() -> None:
    crashed = fresh(batch_lines=100).advance(300, 9000, Counts(imported=300), LATER, 0)
    crashed_again = crashed.begin(100, BASE).advance(380, 9800, Counts(imported=80), BASE, 0)
    resumed = crashed_again.begin(100, BASE)
    assert resumed.recover_until_line == 480 and resumed.positions == LATER


@pytest.mark.parametrize(
    ("in_batch", "entry", "on_topics", "outcome"),
    [
        (False, None, False, Outcome.SEND),
        (True, None, False, Outcome.DUPLICATE_IN_FILE),
        (False, LedgerEntry(mine=True, line=10), False, Outcome.DUPLICATE_IN_FILE),
        (False, LedgerEntry(mine=True, line=60), False, Outcome.RECOVERED),  # ledger ahead of checkpoint
        (False, LedgerEntry(mine=False, line=3), False, Outcome.DUPLICATE_EARLIER),
        (False, LedgerEntry(mine=False, line=3), True, Outcome.DUPLICATE_EARLIER),
        (False, None, True, Outcome.RECOVERED),
        (True, None, True, Outcome.DUPLICATE_IN_FILE),
    ],
)
def test_classify(in_batch: bool, entry: LedgerEntry | None, on_topics: bool, outcome: Outcome) -> None:
    got = classify(("b", "e-1"), in_batch=in_batch, entry=entry, committed_line=50, on_topics=on_topics)
    assert got is outcome


def test_fingerprint_and_key_change_with_content_cluster_and_brand(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    first = fingerprint(path)
    assert first == fingerprint(path) and first.size == 9
    path.write_bytes(b'{"a": 2}\n')
    assert fingerprint(path).sha256 != first.sha256
    keys = {
        checkpoint_key(first, "b:9092/t", None, "jsonl"),
        checkpoint_key(first, "b:9092/u", None, "jsonl"),
        checkpoint_key(first, "b:9092/t", "luckyspin", "jsonl"),
        checkpoint_key(fingerprint(path), "b:9092/t", None, "jsonl"),
    }
    assert len(keys) == 4


def test_target_is_the_sorted_bootstrap_list_and_prefix() -> None:
    settings = Settings(kafka_bootstrap_servers="k2:9092, k1:9092", topic_prefix="cp")
    assert target_of(settings) == "k1:9092,k2:9092/cp"
    assert target_of(Settings(kafka_bootstrap_servers=None)) is None


def test_store_round_trip_earlier_versions_and_lock(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "imports")
    cp = fresh().advance(100, 5000, Counts(imported=100), LATER, 0)
    store.save(cp)
    assert store.load("k1") == cp
    assert store.load("other") is None
    changed = FileIdentity(size=1001, sha256="cd" * 32)
    assert store.earlier_versions(Path("/data/h.jsonl"), "b:9092/t", changed) == [cp]
    assert store.earlier_versions(Path("/data/h.jsonl"), "b:9092/t", IDENTITY) == []
    assert store.earlier_versions(Path("/data/h.jsonl"), "other:9092/t", changed) == []
    with store.lock("k1"):
        with pytest.raises(ImportLocked), store.lock("k1"):
            pass
        with store.lock("k2"):
            pass
    with store.lock("k1"):
        pass


def test_ledger_tells_this_import_from_others_and_keeps_targets_apart(tmp_path: Path) -> None:
    mine = Ledger.open(tmp_path, "b:9092/t", "import-1")
    mine.add([("luckyspin", "e-1", 7), ("luckyspin", "e-2", 8)])
    assert mine.lookup("luckyspin", "e-1") == LedgerEntry(mine=True, line=7)
    assert mine.lookup("otherbrand", "e-1") is None
    other = Ledger.open(tmp_path, "b:9092/t", "import-2")
    assert other.lookup("luckyspin", "e-2") == LedgerEntry(mine=False, line=8)
    other.add([("luckyspin", "e-2", 1)])  # the first delivery wins
    assert mine.lookup("luckyspin", "e-2") == LedgerEntry(mine=True, line=8)
    elsewhere = Ledger.open(tmp_path, "c:9092/t", "import-1")
    assert elsewhere.lookup("luckyspin", "e-1") is None
    for ledger in (mine, other, elsewhere):
        ledger.close()
    readonly = Ledger.open_readonly(tmp_path, "b:9092/t", "never-ran")
    assert readonly is not None and readonly.lookup("luckyspin", "e-1") == LedgerEntry(mine=False, line=7)
    readonly.close()
    assert Ledger.open_readonly(tmp_path / "none", "b:9092/t", "x") is None
    assert not (tmp_path / "none").exists()


def test_a_complete_file_closes_any_crash_window() -> None:
    crashed = fresh(batch_lines=100).advance(300, 9000, Counts(imported=300), LATER, 0)
    done = crashed.begin(100, BASE).advance(350, 9500, Counts(imported=50), BASE, 0).finish(complete=True)
    assert done.complete and done.clean and done.recover_until_line is None
