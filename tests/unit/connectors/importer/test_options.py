"""`clickpath import`'s options and exit codes, the part of it that scripts rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickpath.connectors.importer.options import ExitCode, ImportOptions, ImportResult
from clickpath.connectors.importer.state import Counts

TOTALS = Counts(imported=1200, recovered=7, duplicates_in_file=3, duplicates_earlier=2, rejected=2)


def result(status: str, totals: Counts) -> ImportResult:
    return ImportResult(status=status, path=Path("/x/history.jsonl"), format="jsonl", totals=totals)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "totals", "code"),
    [
        ("complete", Counts(imported=5, duplicates_in_file=1), ExitCode.OK),
        ("complete", TOTALS, ExitCode.REJECTED),
        ("already_complete", Counts(imported=5), ExitCode.OK),
        ("already_complete", TOTALS, ExitCode.REJECTED),  # the file still has rejected lines
        ("dry_run", TOTALS, ExitCode.REJECTED),
        ("interrupted", Counts(imported=5), ExitCode.INTERRUPTED),
        ("broker_failed", Counts(imported=5), ExitCode.BROKER),
    ],
)
def test_exit_codes(status: str, totals: Counts, code: int) -> None:
    assert result(status, totals).exit_code == code


def test_exit_codes_keep_the_numbers_scripts_check() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 130]


def test_options_check_their_numbers_and_put_the_report_next_to_the_file() -> None:
    options = ImportOptions(path=Path("/x/h.csv"), format="csv")
    assert options.rejects == Path("/x/h.csv.rejected.jsonl")
    for bad in ({"batch_lines": 0}, {"rate": 0.0}, {"ack_timeout_s": -1.0}):
        with pytest.raises(ValueError):
            ImportOptions(path=Path("/x/h.csv"), format="csv", **bad)  # type: ignore[arg-type]
