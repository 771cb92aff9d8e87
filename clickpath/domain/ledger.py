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

from collections.abc import Callable
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
    it and the value it had before (`{"v", "base", "value"}`); a row written by a version the
    stored state does not have yet reads as its `base`.
    """

    def __init__(self, read: Callable[[str], Row | None], state_version: int) -> None:
        self._read = read
        self._state_version = state_version
        self._base: dict[str, Row | None] = {}
        self._changes: dict[str, Row] = {}

    def _stored(self, row: str) -> Row | None:
        if row not in self._base:
            raw = self._read(row)
            if raw is None:
                self._base[row] = None
            elif raw["v"] <= self._state_version:
                self._base[row] = raw["value"]
            else:
                self._base[row] = raw["base"]  # written by a run whose state never landed
        return self._base[row]

    def get(self, row: str) -> Row | None:
        if row in self._changes:
            return self._changes[row]
        return self._stored(row)

    def put(self, row: str, value: Row) -> None:
        self._stored(row)
        self._changes[row] = value

    def writes(self, state_version: int) -> list[tuple[str, Row]]:
        """The rows to store before the state of `state_version` is stored."""
        return [
            (row, {"v": state_version, "base": self._base[row], "value": value})
            for row, value in self._changes.items()
        ]
