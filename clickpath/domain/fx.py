"""Amounts in a reporting currency, through an effective-dated FX table from configuration.

Money stays Decimal per currency everywhere; the report adds, next to each per-currency map,
the same amount in `CLICKPATH_REPORTING_CURRENCY`, converting each day's amount at the rate in
effect on that day: the newest `fx_rates` entry of its currency whose `effective_from` is not
after the day. A currency with no rate in effect is named, never guessed.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from clickpath.contracts.models import Currency


class FxRate(BaseModel):
    """One unit of `currency` is worth `rate` units of the reporting currency from
    `effective_from` on (until a later entry of the same currency)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    currency: Currency
    rate: Decimal = Field(gt=0, max_digits=20, decimal_places=10)
    effective_from: date


class FxTable:
    def __init__(self, reporting: str, rates: Sequence[FxRate]) -> None:
        self.reporting = reporting
        self.rates = sorted(rates, key=lambda r: (r.currency, r.effective_from))
        self._by_currency: dict[str, tuple[list[date], list[Decimal]]] = {}
        for r in self.rates:
            days, values = self._by_currency.setdefault(r.currency, ([], []))
            days.append(r.effective_from)
            values.append(r.rate)

    def rate(self, currency: str, day: date) -> Decimal | None:
        if currency == self.reporting:
            return Decimal(1)
        days, values = self._by_currency.get(currency, ([], []))
        at = bisect.bisect_right(days, day)
        return values[at - 1] if at else None

    def convert(self, amount: Decimal, currency: str, day: date) -> Decimal | None:
        rate = self.rate(currency, day)
        return None if rate is None else (amount * rate).quantize(Decimal("0.0001"))
