"""The ledger's one rounding rule: the currency's minor unit, half to even."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clickpath.contracts.money import ISO_4217, MINOR_UNITS, round_to_minor


@pytest.mark.parametrize(("amount", "currency", "rounded"), [
    ("10.005", "EUR", "10.00"),
    ("10.015", "EUR", "10.02"),
    ("-0.125", "USD", "-0.12"),
    ("1234.5", "JPY", "1234"),
    ("1235.5", "JPY", "1236"),
    ("1.2345", "KWD", "1.234"),
    ("0.00012345", "BTC", "0.000123"),
])
def test_amounts_round_half_even_to_the_minor_unit(amount: str, currency: str, rounded: str) -> None:
    assert str(round_to_minor(Decimal(amount), currency)) == rounded


def test_every_listed_currency_is_a_known_code() -> None:
    assert set(MINOR_UNITS) <= ISO_4217
