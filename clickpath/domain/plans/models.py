"""A commission plan's terms as validated models: CPA rules, RevShare bands, the NGR formula.

Pure: no storage, no clock. The settings (TOML), the admin store and the commission stage all
build these; a value that passes here is one the engine can apply without further checks.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clickpath.contracts.money import check_currency

# Plan ids appear in ledger entries and admin URLs: short and URL-safe like catalogue ids.
PLAN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

_HUNDRED = Decimal(100)


class _Strict(BaseModel):
    # A misspelt key in a plan would otherwise silently mean "no rule": forbid unknown keys.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _rate(value: Decimal) -> Decimal:
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        raise ValueError(f"rate must be between 0 and 1 (0.25 = 25 %), not {value}")
    return value


def _non_negative(value: Decimal | None) -> Decimal | None:
    if value is not None and (not value.is_finite() or value < 0):
        raise ValueError(f"must be a non-negative amount, not {value}")
    return value


class CpaAmount(_Strict):
    """A CPA amount for one brand and/or country; the most specific override wins."""

    brand_id: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    amount: Decimal

    _amount = field_validator("amount")(_non_negative)

    @model_validator(mode="after")
    def _names_something(self) -> CpaAmount:
        if self.brand_id is None and self.country is None:
            raise ValueError("an amount override needs a brand_id or a country (or both)")
        return self


class CpaTerms(_Strict):
    """When a player qualifies for a CPA (every condition within `within_days` of registration)."""

    amount: Decimal
    amounts: list[CpaAmount] = []
    min_first_deposit: Decimal | None = None
    min_total_deposits: Decimal | None = None
    kyc_verified: bool = False
    min_wagering: Decimal | None = None  # real-money stakes
    within_days: int = Field(default=30, ge=1, le=3650)
    monthly_cap: int | None = Field(default=None, ge=0)
    clawback_days: int | None = Field(default=90, ge=0, le=3650)

    _amounts = field_validator("amount", "min_first_deposit", "min_total_deposits", "min_wagering")(
        _non_negative
    )

    @field_validator("amounts")
    @classmethod
    def _one_per_target(cls, value: list[CpaAmount]) -> list[CpaAmount]:
        seen: set[tuple[str | None, str | None]] = set()
        for item in value:
            target = (item.brand_id, item.country)
            if target in seen:
                raise ValueError(f"two amounts for brand {item.brand_id!r} country {item.country!r}")
            seen.add(target)
        return value


class Band(_Strict):
    """From this threshold (NGR amount, or a count of players) on, this rate."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: Decimal = Field(alias="from")
    rate: Decimal

    _rate = field_validator("rate")(_rate)
    _from = field_validator("from_")(_non_negative)


class NgrFormula(_Strict):
    """NGR = GGR - deduction lines; each `_pct` is a percent (16.5 = 16.5 %) of its named base.

    A market's formula is configuration: the MGA's "GGR x 83.5 % - bonus - (deposits +
    withdrawals) x 10 %" is gaming_tax_pct 16.5, deposit_fee_pct 10, withdrawal_fee_pct 10.
    """

    gaming_tax_pct: Decimal = Decimal(0)  # of GGR
    platform_fee_pct: Decimal = Decimal(0)  # of GGR (provider/platform fee)
    deposit_fee_pct: Decimal = Decimal(0)  # of approved deposits
    withdrawal_fee_pct: Decimal = Decimal(0)  # of approved withdrawals
    admin_fee_pct: Decimal = Decimal(0)  # of GGR
    bonus_cost: bool = True
    chargebacks: bool = True

    @field_validator(
        "gaming_tax_pct", "platform_fee_pct", "deposit_fee_pct", "withdrawal_fee_pct", "admin_fee_pct"
    )
    @classmethod
    def _percent(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or not Decimal(0) <= value <= _HUNDRED:
            raise ValueError(f"a percent between 0 and 100 (16.5 = 16.5 %), not {value}")
        return value

    def ngr(
        self,
        stakes: Decimal,
        wins: Decimal,
        bonus_cost: Decimal,
        chargeback_sum: Decimal,
        deposit_sum: Decimal,
        withdrawal_sum: Decimal,
    ) -> Decimal:
        """The period's NGR, unrounded (rounding happens once, when an entry is written)."""
        ggr = stakes - wins
        ggr_pct = self.gaming_tax_pct + self.platform_fee_pct + self.admin_fee_pct
        value = ggr - ggr * ggr_pct / _HUNDRED
        value -= deposit_sum * self.deposit_fee_pct / _HUNDRED
        value -= withdrawal_sum * self.withdrawal_fee_pct / _HUNDRED
        if self.bonus_cost:
            value -= bonus_cost
        if self.chargebacks:
            value -= chargeback_sum
        return value


class RevShareTerms(_Strict):
    """A share of the period's NGR: flat, tiered (reached rate on all) or ladder (per band)."""

    mode: Literal["flat", "tiered", "ladder"]
    rate: Decimal | None = None
    bands: list[Band] = []
    threshold_on: Literal["ngr", "ftds", "qualified", "active"] = "ngr"
    negative_carry_over: bool = False
    ngr: NgrFormula = NgrFormula()
    active_min_wagers: int = Field(default=1, ge=1)

    @field_validator("rate")
    @classmethod
    def _flat_rate(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else _rate(value)

    @field_validator("bands")
    @classmethod
    def _ascending(cls, value: list[Band]) -> list[Band]:
        for before, after in zip(value, value[1:], strict=False):
            if after.from_ <= before.from_:
                raise ValueError(f"bands must ascend by 'from': {after.from_} follows {before.from_}")
        return value

    @model_validator(mode="after")
    def _mode_needs(self) -> RevShareTerms:
        if self.mode == "flat":
            if self.rate is None:
                raise ValueError("rate: a flat RevShare needs a rate")
            if self.bands:
                raise ValueError("bands: a flat RevShare takes a rate, not bands")
        else:
            if not self.bands:
                raise ValueError(f"bands: a {self.mode} RevShare needs bands")
            if self.rate is not None:
                raise ValueError(f"rate: a {self.mode} RevShare takes bands, not a rate")
        if self.mode == "ladder" and self.threshold_on != "ngr":
            raise ValueError("threshold_on: a ladder applies each rate to its band of NGR: ngr only")
        return self


class VersionTerms(_Strict):
    """What one version of a plan says, as configured or posted to the admin API."""

    effective_from: date
    currency: str
    cpa: CpaTerms | None = None
    revshare: RevShareTerms | None = None
    sub_affiliate_share: Decimal | None = None

    _currency = field_validator("currency")(check_currency)

    @field_validator("sub_affiliate_share")
    @classmethod
    def _share(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else _rate(value)

    @model_validator(mode="after")
    def _pays_something(self) -> VersionTerms:
        if self.cpa is None and self.revshare is None:
            raise ValueError("cpa: a version needs cpa, revshare or both")
        return self


class PlanVersion(VersionTerms):
    """One effective-dated version of a plan; never edited, a change adds a newer one."""

    plan_id: str = Field(pattern=PLAN_ID_PATTERN)
    version: int = Field(ge=1)
    source: Literal["config", "admin"]
    recorded_at: datetime

    @property
    def kind(self) -> Literal["cpa", "revshare", "hybrid"]:
        if self.cpa is not None and self.revshare is not None:
            return "hybrid"
        return "cpa" if self.cpa is not None else "revshare"


class Assignment(_Strict):
    """Which plan an affiliate is on, optionally only for one brand and/or country."""

    plan_id: str = Field(pattern=PLAN_ID_PATTERN)
    affiliate_id: str
    brand_id: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")

    @property
    def specificity(self) -> int:
        """affiliate+brand+country (3) > +brand (2) > +country (1) > affiliate only (0)."""
        return (2 if self.brand_id is not None else 0) + (1 if self.country is not None else 0)
