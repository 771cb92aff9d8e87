"""What `clickpath import` tells an operator: the text summary and the JSON line for scripts."""

from __future__ import annotations

from pathlib import Path

from clickpath.connectors.importer.options import ExitCode, ImportResult
from clickpath.connectors.importer.progress import render_summary, summary_json
from clickpath.connectors.importer.state import Counts

TOTALS = Counts(imported=1200, recovered=7, duplicates_in_file=3, duplicates_earlier=2, rejected=2)
REJECTIONS = [
    {"line": 6, "field": "amount", "reason": "Input should be a valid decimal"},
    {"line": 7, "field": "", "reason": "not valid JSON: Expecting value (column 1)"},
]


def result(status: str, totals: Counts = TOTALS, **kwargs: object) -> ImportResult:
    return ImportResult(
        status=status, path=Path("/x/history.jsonl"), format="jsonl", totals=totals,  # type: ignore[arg-type]
        rejects_path=Path("/x/history.jsonl.rejected.jsonl"), checkpoint_path=Path("/d/imports/k.json"),
        **kwargs,  # type: ignore[arg-type]
    )


def test_summary_of_a_resumed_import_with_rejections() -> None:
    resumed = result("complete", run=Counts(imported=200, rejected=1), elapsed_s=0.1,
                     notes=["resuming after line 1,000"])
    text = render_summary(resumed, REJECTIONS)
    assert text.splitlines() == [
        "Imported history.jsonl: done.",
        "  note: resuming after line 1,000",
        "  imported     1,200  (this run 200)",
        "  duplicates   5  (3 repeated in this file, 2 delivered by an earlier import)",
        "  rejected     2  (all of them in /x/history.jsonl.rejected.jsonl)",
        "    line 6: amount: Input should be a valid decimal",
        "    line 7: record: not valid JSON: Expecting value (column 1)",
        "  checkpoint   /d/imports/k.json",
    ]


def test_summary_headlines_say_what_to_do_next() -> None:
    assert render_summary(result("already_complete", finished_at="2026-01-05 10:00 UTC"), []).startswith(
        "history.jsonl was already imported (2026-01-05 10:00 UTC): nothing to do."
    )
    assert "Run the same command again to continue" in render_summary(result("interrupted", line=5000), [])
    failed = render_summary(result("broker_failed", line=5000, error="3 records failed"), [])
    assert "Kafka did not acknowledge records of history.jsonl (3 records failed)" in failed
    assert "up to line 5,000 is acknowledged" in failed
    dry = render_summary(result("dry_run", TOTALS), REJECTIONS[:1])
    assert "would import 1,200" in dry and "… 1 more in the report" in dry


def test_json_summary_for_scripts() -> None:
    got = summary_json(result("complete", run=TOTALS, elapsed_s=2.0))
    assert got["status"] == "complete" and got["exit_code"] == ExitCode.REJECTED
    assert (got["imported"], got["duplicates"], got["rejected"], got["recovered"]) == (1200, 5, 2, 7)
    assert got["records"] == 1207 and got["records_per_s"] == 604
    assert got["rejects_file"] == "/x/history.jsonl.rejected.jsonl"
