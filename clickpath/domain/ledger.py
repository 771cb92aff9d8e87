"""The player's rows that grow with their history, kept beside the player's state, not in it.

A player's state is read and written with every batch of their events, so it must stay small
however long they play: a VIP with 100,000 deposits must cost what a new player costs. What
grows with history lives in rows of its own, each read only when an event needs it: the natural
keys of money events (kept forever: the dedup), the value of each day and currency, the day
index, the FTD candidates, what was reported of each deposit. Their keys, what each holds and
who writes it are listed in one place, domain/ledger_rows.py.

The agent stores the rows in the player's own table partition, written before the state row
and versioned so that a crash between the two is harmless (`StoredLedger`). Tests use
`MemoryLedger`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

Row = dict[str, Any]


class Ledger(Protocol):
    def get(self, row: str) -> Row | None: ...

    def put(self, row: str, value: Row) -> None: ...


def ledger_key(person_id: str, row: str) -> str:
    """A row's key in the table that also holds the states (keyed by person id). Ids carry no
    control characters (clickpath.contracts.models.Id), so no person id can equal it."""
    return f"{person_id}\x1f{row}"


@dataclass
class MemoryLedger:
    """A ledger in a dict: the rows a test (or a state that has not been stored yet) keeps."""

    rows: dict[str, Row] = field(default_factory=dict)

    def get(self, row: str) -> Row | None:
        return self.rows.get(row)

    def put(self, row: str, value: Row) -> None:
        self.rows[row] = value


class StoredLedger:
    """A ledger over the agent's table that survives a crash between its writes.

    The agent writes a run's changed rows and then the state row. A crash can land the rows
    and lose the state: the inputs are then read again against the older state, which must not
    see rows that already count them. So every row is stored with the state version that wrote
    it, the lineage that wrote it and the value it had before (`{"v", "l", "base", "value"}`),
    and a row the stored state does not count reads as its `base`.

    A version alone is not enough: after a takeover the replay can reach the orphan's version
    without its event (another topic's records first), and the orphan would read as counted
    (the lost wagers of issue 22). So a row counts when it was written by
    - the state's own lineage at a version the state has (`v <= version`);
    - a lineage the state forked from (`forks`: lineage -> the version it had there) at a
      version the fork had (`v <= forks[l]`);
    - a lineage older than every lineage the state knows: an ancestor that fell out of the
      capped `forks` long ago (the long-term normal for natural-key rows, kept forever).
    A row of a lineage newer than the oldest one the state knows, and unknown to it, was written
    by a run whose state never landed: it reads as its base, and it is rewritten to its base
    under the writer's lineage with the next write (healed as soon as it is read, so the orphan
    does not outlive the forks that identify it). Lineage tokens are ordered by when they were
    drawn (`clickpath.streams.runtime`). Rows without `l` (written before lineages) keep the
    version rule, and so does every row of a state stored without a lineage (a new key, or one
    an older version wrote); `writer` None writes rows without one.
    """

    def __init__(
        self,
        read: Callable[[str], Row | None],
        state_version: int,
        lineage: str = "",
        forks: Mapping[str, int] | None = None,
        writer: str | None = None,
    ) -> None:
        """`lineage`, `forks`: the stored state's ("" for a state stored without one, or none);
        `writer`: the lineage the rows are written under."""
        self._read = read
        self._state_version = state_version
        self._lineage = lineage
        self._forks = forks or {}
        self._writer = writer
        self._base: dict[str, Row | None] = {}
        self._changes: dict[str, Row] = {}
        self._orphans: list[str] = []
        # Every lineage below the oldest one the state knows is an ancestor (computed once: a
        # run reads many rows)
        self._oldest = min(self._lineage, min(self._forks, default=self._lineage))

    def _counts(self, raw: Row) -> bool:
        """Whether the stored state counts the row's `value` (see the class docstring)."""
        lineage = raw.get("l")
        if lineage is None or lineage == self._lineage or not self._lineage:
            return bool(raw["v"] <= self._state_version)
        fork = self._forks.get(lineage)
        if fork is not None:
            return bool(raw["v"] <= fork)
        return bool(lineage < self._oldest)

    def _stored(self, row: str) -> Row | None:
        if row not in self._base:
            raw = self._read(row)
            if raw is None:
                self._base[row] = None
            elif self._counts(raw):
                self._base[row] = raw["value"]
            else:
                self._base[row] = raw["base"]  # written by a run whose state never landed
                self._orphans.append(row)
        return self._base[row]

    def get(self, row: str) -> Row | None:
        if row in self._changes:
            return self._changes[row]
        return self._stored(row)

    def put(self, row: str, value: Row) -> None:
        self._stored(row)
        self._changes[row] = value

    def writes(self, state_version: int) -> list[tuple[str, Row]]:
        """The rows to store before the state of `state_version` is stored: the changed ones,
        and the orphans read on the way, rewritten to their base."""
        writer = self._writer
        if writer is None:
            return [
                (row, {"v": state_version, "base": self._base[row], "value": value})
                for row, value in self._changes.items()
            ]
        rows = [
            (row, {"v": state_version, "l": writer, "base": self._base[row], "value": value})
            for row, value in self._changes.items()
        ]
        for row in self._orphans:
            if row not in self._changes:
                base = self._base[row]
                rows.append((row, {"v": state_version, "l": writer, "base": base, "value": base}))
        return rows
