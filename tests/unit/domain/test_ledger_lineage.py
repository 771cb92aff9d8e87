"""Which stored ledger rows a state counts, by the lineage that wrote them (issue 22: the lost
wagers). A row counts when the state's own lineage wrote it at a version the state has, or a
lineage it forked from wrote it before the fork, or it is older than anything the state knows;
a row of a run whose state never landed reads as its base, and is healed on the next write."""

from __future__ import annotations

from typing import Any

from clickpath.domain.ledger import StoredLedger

# Lineage tokens order by when they were drawn (clickpath.streams.runtime.new_lineage).
OLD, X, Y, Z = "0001", "0002", "0003", "0004"
COUNTED, BEFORE = {"n": 2}, {"n": 1}


def row(v: int, lineage: str | None) -> dict[str, Any]:
    stored: dict[str, Any] = {"v": v, "base": BEFORE, "value": COUNTED}
    if lineage is not None:
        stored["l"] = lineage
    return stored


def read(stored: dict[str, Any], version: int, lineage: str = "", forks: dict[str, int] | None = None,
         ) -> Any:
    return StoredLedger(lambda _: stored, version, lineage, forks, writer=Z).get("W|w")


def test_the_states_own_lineage_counts_what_it_wrote_up_to_its_version() -> None:
    assert read(row(5, X), 5, X) == COUNTED
    assert read(row(6, X), 5, X) == BEFORE  # the rows landed, the state of version 6 did not


def test_a_lineage_the_state_forked_from_counts_up_to_the_fork() -> None:
    assert read(row(4, X), 9, Y, {X: 4}) == COUNTED
    assert read(row(5, X), 9, Y, {X: 4}) == BEFORE  # X's run after the fork never landed


def test_a_newer_lineage_the_state_does_not_know_never_landed() -> None:
    """wager-loss.md: X stored the state (version 2); Y read it, landed its rows (v 4) and was
    killed; Z forked from X and its replay reached version 4 before reading the row."""
    assert read(row(4, Y), 4, Z, {X: 2}) == BEFORE
    assert read(row(4, Y), 2, X) == BEFORE  # read by Z's first run, before it forked


def test_a_lineage_older_than_everything_the_state_knows_is_an_ancestor() -> None:
    """A natural-key row written long ago, its lineage since dropped from the capped forks."""
    assert read(row(1, OLD), 30, Z, {X: 10, Y: 20}) == COUNTED


def test_rows_and_states_without_a_lineage_keep_the_version_rule() -> None:
    assert read(row(3, None), 3, Z, {X: 1}) == COUNTED  # a row written before lineages
    assert read(row(4, None), 3, Z, {X: 1}) == BEFORE
    assert read(row(3, Y), 3) == COUNTED  # a state an older version stored (no lineage)
    assert read(row(4, Y), 3) == BEFORE
    assert read(row(1, Y), 0) == BEFORE  # no state at all: every row is a lost run's


def test_rows_are_written_with_their_lineage_and_an_orphan_read_is_healed() -> None:
    stored = {"W|w": row(4, Y), "D|d": row(2, X)}
    ledger = StoredLedger(stored.get, 2, X, writer=Z)
    assert ledger.get("W|w") == BEFORE  # an orphan
    assert ledger.get("D|d") == COUNTED
    ledger.put("D|d", {"n": 3})
    writes = dict(ledger.writes(3))
    assert writes == {
        "D|d": {"v": 3, "l": Z, "base": COUNTED, "value": {"n": 3}},
        "W|w": {"v": 3, "l": Z, "base": BEFORE, "value": BEFORE},  # healed: no longer Y's
    }
    # Healed, the row reads right even once Y (and X) are older than every fork kept.
    assert read(writes["W|w"], 3, Z) == BEFORE


def test_without_a_writer_lineage_rows_are_written_as_before() -> None:
    ledger = StoredLedger(lambda _: None, 0)
    ledger.put("W|w", COUNTED)
    assert ledger.writes(1) == [("W|w", {"v": 1, "base": None, "value": COUNTED})]
