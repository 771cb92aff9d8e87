"""A player's value per day and currency: the totals a funnel fact is made of.

Kept in the player's ledger rows (`day_row(day, currency)`), one per day and currency that has
anything, so a fact is read and written without the player's history. What counts where:

- an approved deposit: `deposits`, `deposit_sum` on the day it was made (its earliest event
  time); declined ones only in `declined_deposits`; pending, cancelled and refunded not at all;
- an approved withdrawal: `withdrawals`, `withdrawal_sum`;
- a chargeback: `chargebacks`, `chargeback_sum` on its own day; the deposit it reverses stays
  counted (deposits and FTDs are gross, as operators report them) and NGR pays for it;
- a wager: `stakes` (real money), `wins`, `bonus_stakes`;
- a bonus converted to real money: `bonus_cost`.

GGR = stakes − wins; NGR = GGR − bonus_cost − chargeback_sum (fees come with commissions).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel

from clickpath.domain.ledger import Ledger
from clickpath.domain.ledger_rows import DAY_INDEX, day_row

MONEY_FIELDS = (
    "deposit_sum", "withdrawal_sum", "chargeback_sum", "stakes", "wins", "bonus_stakes",
    "bonus_cost",
)


class DayTotals(BaseModel):
    deposits: int = 0
    deposit_sum: Decimal = Decimal(0)
    declined_deposits: int = 0
    withdrawals: int = 0
    withdrawal_sum: Decimal = Decimal(0)
    chargebacks: int = 0
    chargeback_sum: Decimal = Decimal(0)
    stakes: Decimal = Decimal(0)
    wins: Decimal = Decimal(0)
    bonus_stakes: Decimal = Decimal(0)
    bonus_cost: Decimal = Decimal(0)
    approved_ever: int = 0  # entries in this day's FTD-candidate chunks (domain/payments.py)



def day_totals(ledger: Ledger, day: date, currency: str) -> DayTotals:
    row = ledger.get(day_row(day, currency))
    return DayTotals.model_validate(row) if row else DayTotals()


class DayBook:
    """Where a money event's effects go: the day's totals in the ledger, and the player's
    lifetime totals per currency (kept in the state: a player has few currencies)."""

    def __init__(self, ledger: Ledger, lifetime: dict[str, DayTotals]) -> None:
        self.ledger = ledger
        self.lifetime = lifetime

    def add(self, day: date, currency: str, **deltas: int | Decimal) -> DayTotals:
        self.add_lifetime(currency, **deltas)
        return add_to_day(self.ledger, day, currency, **deltas)

    def add_lifetime(self, currency: str, **deltas: int | Decimal) -> DayTotals:
        totals = self.lifetime.setdefault(currency, DayTotals())
        for name, delta in deltas.items():
            if name != "approved_ever":
                setattr(totals, name, getattr(totals, name) + delta)
        return totals


def add_to_day(ledger: Ledger, day: date, currency: str, **deltas: int | Decimal) -> DayTotals:
    """Add `deltas` to the day's totals (negative to take away); the day joins the index the
    first time it is written."""
    row = day_row(day, currency)
    stored = ledger.get(row)
    totals = DayTotals.model_validate(stored) if stored else DayTotals()
    if stored is None:
        index = ledger.get(DAY_INDEX) or {"days": []}
        ledger.put(DAY_INDEX, {"days": [*index["days"], row]})
    for name, delta in deltas.items():
        setattr(totals, name, getattr(totals, name) + delta)
    ledger.put(row, totals.model_dump(mode="json"))
    return totals
