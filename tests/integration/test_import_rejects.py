"""The rejects report never follows or removes what clickpath did not make (issue 21, item 21):
a planted symlink at `<file>.rejected.jsonl` and `--rejects EXISTING` are refused before a
record is read; clickpath's own earlier report is replaced, as a re-run after a fix needs."""

from __future__ import annotations

import json

from tests.integration.test_import import journey, run_import, run_to_end, write_jsonl

__all__ = ["run_import"]  # the fixture, used by name


def test_a_planted_symlink_is_neither_followed_nor_deleted(run_import, tmp_path) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    path = write_jsonl(tmp_path / "h.jsonl", journey(1))  # nothing in it is rejected
    report = tmp_path / "h.jsonl.rejected.jsonl"
    report.symlink_to(victim)
    code, out, err = run_to_end(run_import, str(path), "--json")
    assert code == 2, (out, err)
    assert "already exists" in err and "--rejects" in err
    assert victim.read_text() == "keep me\n" and report.is_symlink()

    code, out, err = run_to_end(run_import, str(path), "--dry-run")
    assert code == 2 and "already exists" in err and victim.read_text() == "keep me\n"


def test_rejects_existing_is_refused_and_left_as_it_was(run_import, tmp_path) -> None:
    mine = tmp_path / "notes.jsonl"
    mine.write_text('{"mine": true}\n')
    path = write_jsonl(tmp_path / "h.jsonl", [*journey(1), "not json"])
    code, out, err = run_to_end(run_import, str(path), "--rejects", str(mine))
    assert code == 2 and "already exists" in err, (out, err)
    assert mine.read_text() == '{"mine": true}\n'


def test_its_own_report_is_replaced_on_a_re_run_and_a_clean_import_leaves_none(
    run_import, tmp_path
) -> None:
    path = write_jsonl(tmp_path / "h.jsonl", [*journey(1), "not json"])
    report = tmp_path / "h.jsonl.rejected.jsonl"
    code, out, err = run_to_end(run_import, str(path), "--dry-run")
    assert code == 1, err
    assert [json.loads(x)["line"] for x in report.read_text().splitlines()] == [4]
    code, out, err = run_to_end(run_import, str(path), "--json")  # the dry run's report is ours
    assert code == 1, err
    assert [json.loads(x)["line"] for x in report.read_text().splitlines()] == [4]
    write_jsonl(path, [*journey(1), "still not json", "nor this"])
    code, out, err = run_to_end(run_import, str(path), "--json")
    assert code == 1, err
    assert [json.loads(x)["line"] for x in report.read_text().splitlines()] == [4, 5]

    write_jsonl(path, journey(2))
    code, out, err = run_to_end(run_import, str(path), "--json")
    assert code == 0, err
    assert not report.exists(), "a clean import leaves no report, and removed only its own"
