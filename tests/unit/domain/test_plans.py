"""Plans as an operator writes them: validated with the field named, effective-dated, assigned
most-specific first, and a market's NGR formula as configuration."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from clickpath.domain.plans import (
    NgrFormula,
    PlanBook,
    PlanError,
    cpa_amount_for,
    next_period,
    parse_plan,
    period_bounds,
    period_of,
)

ALPHA = {
    "versions": [
        {"effective_from": date(2026, 1, 1), "currency": "EUR",
         "cpa": {"amount": "100.00", "min_first_deposit": "20.00", "within_days": 30,
                 "amounts": [{"country": "DE", "amount": "120.00"},
                             {"brand_id": "b2", "country": "DE", "amount": "150.00"}]}},
        {"effective_from": date(2026, 6, 1), "currency": "EUR", "cpa": {"amount": "110.00"}},
    ],
    "assign": [{"affiliate": "aff-alpha"}],
}
BETA_DE = {
    "versions": [{"effective_from": date(2026, 1, 1), "currency": "EUR",
                  "revshare": {"mode": "flat", "rate": "0.3"}}],
    "assign": [{"affiliate": "aff-alpha", "country": "DE"}],
}


def book() -> PlanBook:
    return PlanBook.build({"alpha": parse_plan("alpha", ALPHA), "beta-de": parse_plan("beta-de", BETA_DE)})


def test_the_version_in_effect_on_a_day_pays_and_earlier_days_keep_theirs() -> None:
    assert book().plan_for("aff-alpha", "b1", "FR", date(2026, 5, 31)).cpa.amount == Decimal("100.00")  # type: ignore[union-attr]
    v = book().plan_for("aff-alpha", "b1", "FR", date(2026, 6, 1))
    assert v is not None and v.version == 2 and v.cpa is not None and v.cpa.amount == Decimal("110.00")
    assert book().plan_for("aff-alpha", "b1", "FR", date(2025, 12, 31)) is None


def test_the_most_specific_assignment_wins() -> None:
    assert book().plan_id_for("aff-alpha", "b1", "DE") == "beta-de"
    assert book().plan_id_for("aff-alpha", "b1", "FR") == "alpha"
    assert book().plan_id_for("aff-other", "b1", "DE") is None


def test_cpa_amounts_per_brand_and_country() -> None:
    terms = book().version("alpha", 1).cpa
    assert terms is not None
    assert cpa_amount_for(terms, "b1", "DE") == Decimal("120.00")
    assert cpa_amount_for(terms, "b2", "DE") == Decimal("150.00")
    assert cpa_amount_for(terms, "b2", "FR") == Decimal("100.00")


def test_the_mga_formula_is_configuration() -> None:
    # GGR x 83.5 % - bonus - (deposits + withdrawals) x 10 %
    mga = NgrFormula(gaming_tax_pct=Decimal("16.5"), deposit_fee_pct=Decimal(10),
                     withdrawal_fee_pct=Decimal(10))
    ngr = mga.ngr(stakes=Decimal(1000), wins=Decimal(600), bonus_cost=Decimal(50),
                  chargeback_sum=Decimal(0), deposit_sum=Decimal(300), withdrawal_sum=Decimal(100))
    assert ngr == Decimal("400") * Decimal("0.835") - 50 - Decimal(40)  # 244.00


@pytest.mark.parametrize(("raw", "field"), [
    ({"versions": [{"effective_from": date(2026, 1, 1), "currency": "EUR",
                    "revshare": {"mode": "tiered", "bands": [{"from": "0", "rate": "0.25"},
                                                            {"from": "0", "rate": "0.3"}]}}]},
     "plans.p.versions[0].revshare"),
    ({"versions": [{"effective_from": date(2026, 1, 1), "currency": "EUR",
                    "revshare": {"mode": "flat", "rate": "1.5"}}]}, "plans.p.versions[0].revshare.rate"),
    ({"versions": [{"effective_from": date(2026, 1, 1), "currency": "XYZ", "cpa": {"amount": "1"}}]},
     "plans.p.versions[0].currency"),
    ({"versions": [{"effective_from": date(2026, 1, 1), "currency": "EUR"}]}, "plans.p.versions[0]"),
    ({"versions": [{"effective_from": date(2026, 1, 1), "currency": "EUR", "cpa": {"amount": "1"}},
                   {"effective_from": date(2026, 1, 1), "currency": "EUR", "cpa": {"amount": "2"}}]},
     "plans.p.versions: each effective_from once"),
    ({"versions": [{"effective_from": date(2026, 1, 1), "currency": "EUR",
                    "revshare": {"mode": "ladder", "threshold_on": "ftds",
                                 "bands": [{"from": "0", "rate": "0.2"}]}}]},
     "threshold_on"),
])
def test_a_bad_plan_is_refused_naming_the_plan_and_field(raw: dict, field: str) -> None:
    with pytest.raises(PlanError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_plan("p", raw)


def test_one_affiliate_cannot_be_assigned_twice_for_the_same_scope() -> None:
    other = {**BETA_DE, "assign": [{"affiliate": "aff-alpha"}]}
    with pytest.raises(PlanError, match="already assigned"):
        PlanBook.build({"alpha": parse_plan("alpha", ALPHA), "b": parse_plan("b", other)})


def test_periods_are_months_in_the_commission_time_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    late = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    assert period_of(late, ZoneInfo("UTC")) == "2026-01"
    assert period_of(late, berlin) == "2026-02"
    assert next_period("2026-12") == "2027-01"
    start, end = period_bounds("2026-02", berlin)
    assert start.astimezone(UTC) == datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
