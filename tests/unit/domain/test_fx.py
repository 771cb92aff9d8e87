from __future__ import annotations

from datetime import date
from decimal import Decimal

from clickpath.domain.fx import FxRate, FxTable

TABLE = FxTable("EUR", [
    FxRate(currency="USD", rate=Decimal("0.90"), effective_from=date(2026, 1, 1)),
    FxRate(currency="USD", rate=Decimal("0.95"), effective_from=date(2026, 2, 1)),
    FxRate(currency="GBP", rate=Decimal("1.17"), effective_from=date(2026, 1, 1)),
])


def test_each_day_converts_at_the_rate_in_effect_that_day() -> None:
    assert TABLE.convert(Decimal("100"), "USD", date(2026, 1, 31)) == Decimal("90.0000")
    assert TABLE.convert(Decimal("100"), "USD", date(2026, 2, 1)) == Decimal("95.0000")
    assert TABLE.convert(Decimal("10"), "EUR", date(2020, 1, 1)) == Decimal("10.0000")


def test_a_currency_without_a_rate_in_effect_is_not_guessed() -> None:
    assert TABLE.rate("USD", date(2025, 12, 31)) is None
    assert TABLE.rate("SEK", date(2026, 6, 1)) is None
