"""A player's value per commission period and currency: the `M|` rows and the records sent.

`PeriodBook` is the shared `DayBook` (domain/day_value.py) that adds every delta to the period
row of its (local) day instead of a day row, so each period's lines are exactly the sum of the
player stage's day lines, kept without day rows. The FTD comes from the player's profile
(`EarningsState.ftd`), so this stage keeps none of the rows the FTD search needs.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from clickpath.contracts.models import PlayerPeriodValue
from clickpath.contracts.topics import Topic
from clickpath.domain.day_value import DayBook, DayTotals
from clickpath.domain.earnings.state import EarningsState, ftd_of, period_of_day
from clickpath.domain.ledger import Ledger
from clickpath.domain.ledger_rows import period_row
from clickpath.domain.outputs import Output


class PeriodTotals(DayTotals):
    real_wagers: int = 0  # wagers with a real-money stake


def period_totals(ledger: Ledger, period: str, currency: str) -> PeriodTotals:
    row = ledger.get(period_row(period, currency))
    return PeriodTotals.model_validate(row) if row else PeriodTotals()


def add_to_period(ledger: Ledger, period: str, currency: str, **deltas: int | Decimal) -> None:
    totals = period_totals(ledger, period, currency)
    for name, delta in deltas.items():
        if name != "approved_ever":
            setattr(totals, name, getattr(totals, name) + delta)
    ledger.put(period_row(period, currency), totals.model_dump(mode="json"))


class PeriodBook(DayBook):
    """A DayBook whose every delta lands in its period's `M|` row (and the lifetime totals),
    no day row. `real_wager`: the event is a real-money wager, counted in `real_wagers` with
    its stakes (one write)."""

    def __init__(self, ledger: Ledger, lifetime: dict[str, DayTotals], real_wager: bool) -> None:
        super().__init__(ledger, lifetime)
        self.real_wager = real_wager

    def add(self, day: date, currency: str, **deltas: int | Decimal) -> DayTotals:
        extra: dict[str, int | Decimal] = (
            {"real_wagers": 1} if self.real_wager and "stakes" in deltas else {}
        )
        add_to_period(self.ledger, period_of_day(day), currency, **deltas, **extra)
        return self.add_lifetime(currency, **deltas)


def period_key(period: str, currency: str) -> str:
    return f"{period}|{currency}"


def split_key(key: str) -> tuple[str, str]:
    period, currency = key.split("|", 1)
    return period, currency


def value_record(
    state: EarningsState, ledger: Ledger, key: str, affiliate_id: str, caused_by: list[str],
    cause: str, occurred_at: datetime, zero: bool = False,
) -> Output:
    """The cumulative value of one period and currency under `affiliate_id` (`zero`: all
    zero, for the affiliate a re-tag took the player from). Reads its `M|` row."""
    period, currency = split_key(key)
    totals = PeriodTotals() if zero else period_totals(ledger, period, currency)
    ftds = int(not zero and ftd_of(state) == (period, currency))
    record = PlayerPeriodValue(
        affiliate_id=affiliate_id, person_id=state.person_id, brand_id=state.brand_id,
        country=state.country, period=period, currency=currency, version=state.version,
        registered_at=state.registered_at, stakes=totals.stakes, wins=totals.wins,
        bonus_cost=totals.bonus_cost, chargeback_sum=totals.chargeback_sum,
        deposit_sum=totals.deposit_sum, withdrawal_sum=totals.withdrawal_sum,
        deposits=totals.deposits, ftds=ftds, real_wagers=totals.real_wagers,
        caused_by=caused_by, cause=cause,
        occurred_at=occurred_at,
    )
    return Output(Topic.EARNINGS, affiliate_id, record)
