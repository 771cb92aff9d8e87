"""docs/topics.md's table of topics is the registry's: one row per topic, its key as the
registry documents it, the record classes it carries (no more, no fewer) and its retention."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clickpath.contracts.models import ALL_RECORDS
from clickpath.contracts.topics import SPECS, TopicSpec

DOC = (Path(__file__).resolve().parents[3] / "docs" / "topics.md").read_text()
RECORD_NAMES = {cls.__name__ for cls in ALL_RECORDS}
_DAY_MS = 24 * 3600 * 1000


def rows() -> dict[str, list[str]]:
    table = DOC[DOC.index("| topic | key | records | retention |") :].split("\n\n")[0]
    cells = [[c.strip() for c in line.strip("|").split(" | ")] for line in table.splitlines()[2:]]
    return {row[0].strip("`"): row[1:] for row in cells}


def named_records(cell: str) -> set[str]:
    """The record classes a cell names in code spans (`Click`, `io.clickpath.ingress.Click`)."""
    spans = (span.rsplit(".", 1)[-1] for span in re.findall(r"`([\w.]+)`", cell))
    return {name for name in spans if name in RECORD_NAMES}


def retention(spec: TopicSpec) -> str:
    return "forever" if spec.retention_ms < 0 else f"{spec.retention_ms // _DAY_MS} days"


def test_one_row_per_topic() -> None:
    assert sorted(rows()) == sorted(t.value for t in SPECS)


@pytest.mark.parametrize("spec", SPECS.values(), ids=lambda s: s.topic.value)
def test_each_row_is_the_registrys(spec: TopicSpec) -> None:
    key, records, kept = rows()[spec.topic.value]
    assert key.replace("`", "") == spec.key.doc
    assert named_records(records) == {cls.__name__ for cls in spec.records}
    assert kept == retention(spec)


def test_a_record_named_with_or_without_its_namespace_counts() -> None:
    cell = "`io.clickpath.outward.Postback` and `PostbackRevocation`, keyed by `affiliate_id`"
    assert named_records(cell) == {"Postback", "PostbackRevocation"}
