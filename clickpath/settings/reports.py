"""Reports: amounts also in one reporting currency at effective-dated rates (domain/fx.py), and
the cohorts' time zones and CPAs (docs/cohorts.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from clickpath.contracts.models import Currency
from clickpath.contracts.money import Money
from clickpath.domain.cohorts import check_time_zone
from clickpath.domain.fx import FxRate, FxTable


class ReportSettings(BaseModel):
    """The reporting currency and its FX table; each brand's time zone; a CPA per affiliate."""

    reporting_currency: Currency | None = Field(
        default=None, description="Add each report amount in this currency too (e.g. EUR)."
    )
    fx_rates: list[FxRate] = Field(
        default=[], description="[{currency, rate, effective_from}]: one unit's worth in the"
        " reporting currency from that day on (config file [[fx_rates]] or JSON)."
    )

    # Cohorts (docs/cohorts.md): each brand's time zone for its weeks and months, and a CPA per
    # affiliate for CPA-to-LTV until commission plans exist.
    brand_time_zones: dict[str, str] = Field(
        default={}, description="Brand -> IANA time zone of its cohorts (default UTC)."
    )
    affiliate_cpa: dict[str, str] = Field(
        default={}, description='Affiliate -> CPA per first-time depositor, e.g. "50.00 EUR".'
    )

    @field_validator("brand_time_zones")
    @classmethod
    def _valid_time_zones(cls, value: dict[str, str]) -> dict[str, str]:
        for brand, zone in value.items():
            check_time_zone(zone, f"brand_time_zones[{brand!r}]")
        return value

    @field_validator("affiliate_cpa")
    @classmethod
    def _valid_cpa(cls, value: dict[str, str]) -> dict[str, str]:
        for affiliate, text in value.items():
            try:
                cpa = Money.parse(text)
            except ValueError as e:
                raise ValueError(f"affiliate_cpa[{affiliate!r}]: {e}") from None
            if cpa.amount < 0:
                raise ValueError(f"affiliate_cpa[{affiliate!r}]: a CPA cannot be negative")
        return value

    @property
    def fx_table(self) -> FxTable | None:
        """The FX table of the reports, or None when no reporting currency is set."""
        if self.reporting_currency is None:
            return None
        return FxTable(self.reporting_currency, self.fx_rates)

    @property
    def affiliate_cpa_money(self) -> dict[str, Money]:
        """The configured CPA of each affiliate as Money (checked at start)."""
        return {affiliate: Money.parse(text) for affiliate, text in self.affiliate_cpa.items()}
