"""A player's history lives in ledger rows; the state stays small, and a crash between the
rows and the state never counts a deposit twice or loses it."""

from __future__ import annotations

import json
from decimal import Decimal

from clickpath.domain.day_value import day_totals
from clickpath.domain.ledger import StoredLedger
from clickpath.domain.ledger_rows import day_row
from clickpath.domain.outputs import Outcome
from clickpath.domain.players import PlayerPolicy, PlayerState, decide_player
from tests.factories import at, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(1000)


class Table:
    """What the agent's table holds: the state row and the versioned ledger rows, as JSON."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    def load(self) -> tuple[PlayerState | None, StoredLedger]:
        raw = self.rows.get("state")
        state = PlayerState.model_validate_json(raw) if raw else None
        ledger = StoredLedger(
            lambda row: json.loads(self.rows[row]) if row in self.rows else None,
            state.version if state else 0,
        )
        return state, ledger

    def apply(self, *records, land_state: bool = True) -> list[Outcome]:
        state, ledger = self.load()
        outcomes = []
        for record in records:
            new, _, outcome = decide_player(state, record, POLICY, NOW, ledger=ledger)
            if outcome is Outcome.ACCEPTED:
                state = new
            outcomes.append(outcome)
        assert state is not None
        for row, value in ledger.writes(state.version):
            self.rows[row] = json.dumps(value)
        if land_state:  # a crash after the rows were stored loses the state row
            self.rows["state"] = state.model_dump_json()
        return outcomes


def totals(table: Table):
    state, ledger = table.load()
    assert state is not None
    return day_totals(ledger, at(2).date(), "EUR")


def test_a_crash_between_the_rows_and_the_state_counts_the_deposit_once() -> None:
    table = Table()
    table.apply(registration("p1", None), deposit("p1", "t1", "10"))
    table.apply(deposit("p1", "t2", "5"), land_state=False)  # rows stored, state lost
    assert table.apply(deposit("p1", "t2", "5")) == [Outcome.ACCEPTED]  # read again
    assert (totals(table).deposits, totals(table).deposit_sum) == (2, Decimal("15"))
    assert table.apply(deposit("p1", "t2", "5", event_id="retry")) == [Outcome.DUPLICATE]


def test_rows_of_a_landed_state_are_read_as_written() -> None:
    table = Table()
    table.apply(deposit("p1", "t1", "10"), deposit("p1", "t2", "5"))
    stored = json.loads(table.rows[day_row(at(2).date(), "EUR")])
    value = stored["value"]
    assert (value["deposits"], value["deposit_sum"], stored["base"]) == (2, "15", None)
    assert table.apply(deposit("p1", "t1", "10", event_id="again")) == [Outcome.DUPLICATE]


def test_the_state_does_not_grow_with_deposits() -> None:
    table = Table()
    table.apply(registration("p1", None))

    def deposits(first: int, last: int):  # one a day: the day rows grow, the state does not
        return [deposit("p1", f"t{i:04d}", "1", minutes=2 + i * 1440) for i in range(first, last)]

    table.apply(*deposits(0, 100))  # fills the bounded window of recent event ids
    full = len(table.rows["state"])
    table.apply(*deposits(100, 400))
    assert len(table.rows["state"]) <= full + 4  # only the version's digits may grow
