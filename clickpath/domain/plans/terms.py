"""A commission plan's terms: CPA qualification rules, RevShare modes and the NGR formula.

Validated when read (configuration, the admin API): a bad plan is refused with the field named,
never run. Money is Decimal; rates are fractions (0.25 is 25 %), fee lines are percents of the
base they name, so a market's formula ("GGR x 83.5 % - bonus - (deposits + withdrawals) x 10 %")
is configuration: `gaming_tax_pct = 16.5`, `deposit_fee_pct = 10`, `withdrawal_fee_pct = 10`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clickpath.contracts.models import Currency

Rate = Annotated[Decimal, Field(ge=0, le=1)]
Percent = Annotated[Decimal, Field(ge=0, le=100)]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1000000000"))]
_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CpaAmount(BaseModel):
    """A CPA amount for one brand and/or country (the most specific match wins)."""

    model_config = _STRICT
    brand_id: str | None = None
    country: str | None = None
    amount: Money

    @model_validator(mode="after")
    def _names_something(self) -> CpaAmount:
        if self.brand_id is None and self.country is None:
            raise ValueError("an override names a brand_id, a country or both")
        return self


class CpaTerms(BaseModel):
    """A one-time amount when a player qualifies: every rule set must be met within
    `within_days` of registration, by event time."""

    model_config = _STRICT
    amount: Money
    amounts: list[CpaAmount] = []
    min_first_deposit: Money | None = None
    min_total_deposits: Money | None = None
    kyc_verified: bool = False
    min_wagering: Money | None = None  # real-money stakes
    within_days: int = Field(default=30, ge=1, le=3650)
    monthly_cap: int | None = Field(default=None, ge=1)  # CPAs per affiliate and period
    clawback_days: int | None = Field(default=90, ge=0, le=3650)  # reversal window after qualifying


class Band(BaseModel):
    """A tier or ladder band: from `from` (inclusive) on, `rate`."""

    model_config = _STRICT
    from_: Decimal = Field(alias="from", ge=0)
    rate: Rate


class NgrFormula(BaseModel):
    """NGR = GGR minus the plan's deduction lines (percents of the base each names)."""

    model_config = _STRICT
    gaming_tax_pct: Percent = Decimal(0)  # of GGR
    platform_fee_pct: Percent = Decimal(0)  # of GGR: platform / game provider fee
    deposit_fee_pct: Percent = Decimal(0)  # of approved deposits
    withdrawal_fee_pct: Percent = Decimal(0)  # of approved withdrawals
    admin_fee_pct: Percent = Decimal(0)  # of GGR
    bonus_cost: bool = True
    chargebacks: bool = True

    def ngr(self, stakes: Decimal, wins: Decimal, bonus_cost: Decimal, chargeback_sum: Decimal,
            deposit_sum: Decimal, withdrawal_sum: Decimal) -> Decimal:
        ggr = stakes - wins
        share = (self.gaming_tax_pct + self.platform_fee_pct + self.admin_fee_pct) / 100
        out = ggr - ggr * share
        out -= deposit_sum * self.deposit_fee_pct / 100 + withdrawal_sum * self.withdrawal_fee_pct / 100
        if self.bonus_cost:
            out -= bonus_cost
        if self.chargebacks:
            out -= chargeback_sum
        return out


class RevShareTerms(BaseModel):
    """A share of each period's NGR: flat, tiered (the band reached applies to all of it) or
    ladder (each band's rate on its slice)."""

    model_config = _STRICT
    mode: Literal["flat", "tiered", "ladder"]
    rate: Rate | None = None
    bands: list[Band] = []
    threshold_on: Literal["ngr", "ftds", "qualified", "active"] = "ngr"
    negative_carry_over: bool = False
    ngr: NgrFormula = NgrFormula()
    active_min_wagers: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> RevShareTerms:
        if self.mode == "flat":
            if self.rate is None:
                raise ValueError("rate: a flat RevShare needs a rate")
            if self.bands:
                raise ValueError("bands: a flat RevShare has a rate, not bands")
            return self
        if not self.bands:
            raise ValueError(f"bands: a {self.mode} RevShare needs bands")
        if self.rate is not None:
            raise ValueError(f"rate: a {self.mode} RevShare has bands, not a rate")
        starts = [b.from_ for b in self.bands]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError("bands: `from` must ascend, each band once")
        if starts[0] != 0:
            raise ValueError("bands: the first band starts from 0")
        if self.mode == "ladder" and self.threshold_on != "ngr":
            raise ValueError("threshold_on: a ladder's bands are slices of NGR (threshold_on = ngr)")
        return self


class PlanTerms(BaseModel):
    """One version's terms as written (configuration or the admin API)."""

    model_config = _STRICT
    effective_from: date
    currency: Currency
    cpa: CpaTerms | None = None
    revshare: RevShareTerms | None = None
    sub_affiliate_share: Rate | None = None  # of each child's own commission (catalogue parent_id)

    @model_validator(mode="after")
    def _pays_something(self) -> PlanTerms:
        if self.cpa is None and self.revshare is None and self.sub_affiliate_share is None:
            raise ValueError("a version needs cpa, revshare or sub_affiliate_share")
        return self


class PlanVersion(PlanTerms):
    """A version in the book: its terms, number, and where it came from."""

    plan_id: str
    version: int = Field(ge=1)
    source: Literal["config", "admin"] = "config"
    recorded_at: datetime | None = None

    @property
    def kind(self) -> Literal["cpa", "revshare", "hybrid", "sub_affiliate"]:
        if self.cpa is not None and self.revshare is not None:
            return "hybrid"
        if self.cpa is not None:
            return "cpa"
        return "revshare" if self.revshare is not None else "sub_affiliate"


class AssignRule(BaseModel):
    """`[[plans.<id>.assign]]`: the affiliate a plan pays, optionally only for one brand
    and/or country."""

    model_config = _STRICT
    affiliate: str = Field(min_length=1, max_length=128)
    brand: str | None = None
    country: str | None = None


class Assignment(BaseModel):
    """An assignment in the book."""

    model_config = ConfigDict(frozen=True)
    plan_id: str
    affiliate_id: str
    brand_id: str | None = None
    country: str | None = None

    @property
    def specificity(self) -> int:
        return (self.brand_id is not None) * 2 + (self.country is not None)


def cpa_amount_for(terms: CpaTerms, brand_id: str | None, country: str | None) -> Decimal:
    """The CPA for a player of `brand_id` and `country`: the most specific override, else
    the plan's amount."""
    best: tuple[int, Decimal] | None = None
    for o in terms.amounts:
        if o.brand_id not in (None, brand_id) or o.country not in (None, country):
            continue
        score = (o.brand_id is not None) * 2 + (o.country is not None)
        if best is None or score > best[0]:
            best = (score, o.amount)
    return best[1] if best else terms.amount
