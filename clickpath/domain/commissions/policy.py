"""What the commission decisions run under: the plans, the affiliates' parents and payout
currencies, the FX table, the pseudonym key and the commission time zone; and the calendar
(periods) and money (conversion, rounding) rules every component shares.

Nothing here reads a clock or the environment: the caller builds the policy once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from clickpath.contracts.money import round_to_minor
from clickpath.domain.fx import FxTable
from clickpath.domain.plans import PlanBook, PlanVersion, first_day, parse_period

# The scale of the ledger's Avro decimals: original amounts and rates are written at it.
WIRE_SCALE = Decimal("0.000001")


@dataclass(frozen=True)
class CommissionPolicy:
    plans: PlanBook
    fx: FxTable
    pseudonym_key: bytes
    parents: Mapping[str, str | None] = field(default_factory=dict)  # catalogue parent_id
    payout_currencies: Mapping[str, str] = field(default_factory=dict)  # default: fx.reporting
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def payout_currency(self, affiliate_id: str) -> str:
        return self.payout_currencies.get(affiliate_id) or self.fx.reporting

    def parent_of(self, affiliate_id: str) -> str | None:
        """The catalogue parent; an affiliate named as its own parent has none."""
        parent = self.parents.get(affiliate_id)
        return parent if parent and parent != affiliate_id else None

    def revshare_plan(self, affiliate_id: str, period: str) -> PlanVersion | None:
        """The affiliate-level plan (no brand or country override: RevShare is the affiliate's
        whole period) in effect on the period's first day."""
        return self.plans.plan_for(affiliate_id, None, None, first_day(period))

    def cpa_plan(self, plan_id: str | None, version: int | None) -> PlanVersion | None:
        """The version the qualification names (the earnings stage picked the one in effect on
        the player's registration day); None when it names none the book knows."""
        if plan_id is None or version is None:
            return None
        try:
            return self.plans.version(plan_id, version)
        except (KeyError, LookupError, ValueError):
            return None

    def rate(self, from_currency: str, to_currency: str, day: date) -> Decimal | None:
        """One unit of `from_currency` in `to_currency` on `day`, through the reporting
        currency; None when either has no rate in effect (named by the caller, never guessed)."""
        if from_currency == to_currency:
            return Decimal(1)
        a = self.fx.rate(from_currency, day)
        b = self.fx.rate(to_currency, day)
        if a is None or b is None:
            return None
        return a / b


def day_of(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def is_period(text: str) -> bool:
    """Whether `text` is a period `YYYY-MM` (a record naming another is not priced)."""
    try:
        parse_period(text)
    except ValueError:
        return False
    return True


def payout(amount: Decimal, currency: str) -> Decimal:
    """The ledger's one rounding rule: the payout currency's minor unit, half to even."""
    return round_to_minor(amount, currency)


def wire(amount: Decimal) -> Decimal:
    """An exact amount or rate at the ledger's wire scale (original_amount, fx_rate)."""
    return amount.quantize(WIRE_SCALE, rounding=ROUND_HALF_EVEN)
