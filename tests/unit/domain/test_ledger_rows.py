"""Ledger row keys come from one registry, and they are the keys stored rows already have."""

from __future__ import annotations

from datetime import date

import pytest

from clickpath.domain.ledger_rows import (
    DAY_INDEX,
    RowKind,
    bonus_row,
    candidates_row,
    chargeback_row,
    day_of_row,
    day_row,
    deposit_report_row,
    kind_of,
    payment_row,
    wager_row,
)

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
]


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
