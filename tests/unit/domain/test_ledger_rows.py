"""Ledger row keys come from one registry, and they are the keys stored rows already have."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clickpath.contracts.models import Attribution, Bonus, Chargeback, Wager, Withdrawal
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.ledger_rows import (
    DAY_INDEX,
    RowKind,
    bonus_row,
    candidates_row,
    chargeback_row,
    day_of_row,
    day_row,
    deposit_report_row,
    evidence_row,
    kind_of,
    payment_row,
    period_row,
    wager_row,
)
from clickpath.domain.players import PlayerPolicy, decide_player
from tests.factories import at, deposit, registration

DAY = date(2025, 3, 4)

# Golden: the keys the code before the registry wrote (players.py, payments.py, money.py,
# ledger.py). A stored row is found by its key, so a change here loses every row stored.
STORED_KEYS = [
    (DAY_INDEX, "I", RowKind.DAY_INDEX),
    (day_row(DAY, "EUR"), "D|2025-03-04|EUR", RowKind.DAY),
    (payment_row("deposit", "t1"), "T|d|t1", RowKind.PAYMENT),
    (payment_row("withdrawal", "t1"), "T|w|t1", RowKind.PAYMENT),
    (candidates_row(DAY, "EUR", 2), "A|2025-03-04|EUR|2", RowKind.FTD_CANDIDATES),
    (chargeback_row("cb-1"), "C|cb-1", RowKind.CHARGEBACK),
    (wager_row("w-1"), "W|w-1", RowKind.WAGER),
    (bonus_row("b-1", "converted"), "B|b-1|converted", RowKind.BONUS),
    (deposit_report_row("t1"), "P|t1", RowKind.DEPOSIT_REPORT),
    (period_row("2025-03", "EUR"), "M|2025-03|EUR", RowKind.PERIOD),
    (evidence_row("d"), "Q|d", RowKind.EVIDENCE),
]
# Written by the earnings stage only (tests/unit/domain/test_earnings.py)
EARNINGS_KINDS = {RowKind.PERIOD, RowKind.EVIDENCE}


@pytest.mark.parametrize(("made", "stored", "kind"), STORED_KEYS)
def test_each_key_is_the_one_stored_rows_have(made: str, stored: str, kind: RowKind) -> None:
    assert made == stored
    assert kind_of(made) is kind


def test_every_kind_of_row_has_a_key_above() -> None:
    assert {kind for _, _, kind in STORED_KEYS} == set(RowKind)


def test_a_day_row_key_gives_back_its_day_and_currency() -> None:
    assert day_of_row(day_row(DAY, "EUR")) == (DAY, "EUR")


def test_a_key_of_no_known_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        kind_of("Z|something")


def test_every_row_the_player_stage_writes_is_of_a_registered_kind() -> None:
    """A player with every kind of money event, attributed (so deposits are reported): each
    row written has a key made here, and every kind is written by some event."""
    common = {"brand_id": "brand-a", "player_id": "p1", "currency": "EUR"}
    records = [
        registration("p1", "c1"),
        Attribution(person_id="brand-a:p1", brand_id="brand-a", player_id="p1", click_id="c1",
                    status="attributed", affiliate_id="aff-1", campaign_id="camp-1",
                    registered_at=at(1), decided_at=at(1.5)),
        deposit("p1", "t1", "10", minutes=2),
        deposit("p1", "t2", "20", minutes=3),
        Withdrawal(event_id="wd-1", occurred_at=at(4), source="psp", transaction_id="w1",
                   amount=Decimal("5"), **common),
        Chargeback(event_id="cb-1", occurred_at=at(5), source="psp", chargeback_id="cb-1",
                   transaction_id="t2", amount=Decimal("20"), **common),
        Wager(event_id="w-1", occurred_at=at(6), source="casino", wager_id="w-1",
              stake=Decimal("2"), win=Decimal("1"), bonus_stake=Decimal("0"),
              game_category="casino", **common),
        Bonus(event_id="b-1", occurred_at=at(7), source="crm", bonus_id="b-1",
              action="converted", amount=Decimal("3"), **common),
    ]
    ledger, state = MemoryLedger(), None
    for record in records:
        state, _, _ = decide_player(state, record, PlayerPolicy(64, b"k"), at(100), ledger=ledger)
    assert {kind_of(row) for row in ledger.rows} == set(RowKind) - EARNINGS_KINDS
