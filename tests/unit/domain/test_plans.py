"""Plans: validation naming the plan and field, the NGR formula, assignment and effective dating."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clickpath.domain.plans import (
    CpaTerms,
    NgrFormula,
    PlanBook,
    PlanError,
    cpa_amount_for,
    parse_plans,
    period_bounds,
    period_of,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _book(raw: dict[str, Any]) -> PlanBook:
    return PlanBook(*parse_plans(raw, NOW))


def _cpa_version(effective_from: str = "2026-01-01", amount: str = "100.00") -> dict[str, Any]:
    return {"effective_from": effective_from, "currency": "EUR", "cpa": {"amount": amount}}


def test_the_mga_formula_is_configuration_and_gives_the_hand_worked_number() -> None:
    # GGR x 83.5 % - bonus - (deposits + withdrawals) x 10 %
    formula = NgrFormula(
        gaming_tax_pct=Decimal("16.5"), deposit_fee_pct=Decimal(10), withdrawal_fee_pct=Decimal(10)
    )
    ngr = formula.ngr(
        stakes=Decimal("1500.00"),
        wins=Decimal("500.00"),
        bonus_cost=Decimal("50.00"),
        chargeback_sum=Decimal("0"),
        deposit_sum=Decimal("400.00"),
        withdrawal_sum=Decimal("100.00"),
    )
    # GGR 1000.00 x 0.835 = 835.00; - 50.00 bonus; - (400.00 + 100.00) x 0.10 = 50.00 -> 735.00
    assert ngr == Decimal("735.00")


def test_the_formula_from_toml_keeps_its_lines() -> None:
    book = _book(
        {
            "mga": {
                "versions": [
                    {
                        "effective_from": "2026-01-01",
                        "currency": "EUR",
                        "revshare": {
                            "mode": "flat",
                            "rate": "0.30",
                            "ngr": {
                                "gaming_tax_pct": "16.5",
                                "deposit_fee_pct": 10,
                                "withdrawal_fee_pct": 10,
                            },
                        },
                    }
                ],
                "assign": [{"affiliate": "aff-a"}],
            }
        }
    )
    version = book.plan_for("aff-a", "brand-1", "MT", date(2026, 3, 1))
    assert version is not None and version.revshare is not None
    assert version.revshare.ngr.ngr(
        Decimal(1500), Decimal(500), Decimal(50), Decimal(0), Decimal(400), Decimal(100)
    ) == Decimal("735.00")
    assert version.kind == "revshare"
    assert version.source == "config" and version.version == 1


def test_chargebacks_and_bonus_lines_can_be_left_out() -> None:
    formula = NgrFormula(bonus_cost=False, chargebacks=False, platform_fee_pct=Decimal(10))
    assert formula.ngr(
        Decimal(200), Decimal(100), Decimal(30), Decimal(20), Decimal(0), Decimal(0)
    ) == Decimal(90)
    assert NgrFormula().ngr(
        Decimal(200), Decimal(100), Decimal(30), Decimal(20), Decimal(0), Decimal(0)
    ) == Decimal(50)


@pytest.mark.parametrize(
    ("version", "path"),
    [
        (
            {
                "revshare": {
                    "mode": "tiered",
                    "bands": [{"from": 1000, "rate": "0.3"}, {"from": 0, "rate": "0.2"}],
                }
            },
            "plans.alpha.versions[0].revshare.bands: ",
        ),
        ({"revshare": {"mode": "tiered"}}, "plans.alpha.versions[0].revshare.bands: "),
        (
            {"revshare": {"mode": "ladder", "bands": [{"from": 0, "rate": "0.2"}]}, "x": 1},
            "plans.alpha.versions[0].x: ",
        ),
        ({"revshare": {"mode": "flat"}}, "plans.alpha.versions[0].revshare.rate: "),
        ({"revshare": {"mode": "flat", "rate": "1.5"}}, "plans.alpha.versions[0].revshare.rate: "),
        (
            {"revshare": {"mode": "ladder", "threshold_on": "ftds", "bands": [{"from": 0, "rate": "0.2"}]}},
            "plans.alpha.versions[0].revshare.threshold_on: ",
        ),
        (
            {"revshare": {"mode": "tiered", "bands": [{"from": 0, "rate": "-0.1"}]}},
            "plans.alpha.versions[0].revshare.bands[0].rate: ",
        ),
        ({}, "plans.alpha.versions[0].cpa: "),
        ({"cpa": {"amount": "10"}, "currency": "EURO"}, "plans.alpha.versions[0].currency: "),
        ({"cpa": {"amount": "-10"}}, "plans.alpha.versions[0].cpa.amount: "),
        (
            {"cpa": {"amount": "10"}, "sub_affiliate_share": "2"},
            "plans.alpha.versions[0].sub_affiliate_share: ",
        ),
    ],
)
def test_errors_name_the_plan_and_the_field(version: dict[str, Any], path: str) -> None:
    raw = {"alpha": {"versions": [{"effective_from": "2026-01-01", "currency": "EUR"} | version]}}
    with pytest.raises(PlanError) as caught:
        _book(raw)
    assert str(caught.value).startswith(path), str(caught.value)


def test_effective_from_is_unique_per_plan() -> None:
    with pytest.raises(PlanError, match=r"^plans\.alpha\.versions\[1\]\.effective_from: "):
        _book({"alpha": {"versions": [_cpa_version(), _cpa_version()]}})


def test_an_assignment_names_a_plan_and_an_affiliate_is_on_one_plan_per_scope() -> None:
    with pytest.raises(PlanError, match=r"^plans\.b\.assign: .*already on plan 'a'"):
        _book(
            {
                "a": {"versions": [_cpa_version()], "assign": [{"affiliate": "x"}]},
                "b": {"versions": [_cpa_version()], "assign": [{"affiliate": "x"}]},
            }
        )


def test_the_most_specific_assignment_wins() -> None:
    book = _book(
        {
            "base": {"versions": [_cpa_version(amount="10")], "assign": [{"affiliate": "x"}]},
            "de": {"versions": [_cpa_version(amount="20")], "assign": [{"affiliate": "x", "country": "DE"}]},
            "b1": {"versions": [_cpa_version(amount="30")], "assign": [{"affiliate": "x", "brand": "b1"}]},
            "b1de": {
                "versions": [_cpa_version(amount="40")],
                "assign": [{"affiliate": "x", "brand": "b1", "country": "DE"}],
            },
        }
    )
    day = date(2026, 6, 1)

    def plan(brand: str | None, country: str | None) -> str | None:
        found = book.plan_for("x", brand, country, day)
        return None if found is None else found.plan_id

    assert plan("b1", "DE") == "b1de"
    assert plan("b1", "FR") == "b1"
    assert plan("b2", "DE") == "de"
    assert plan("b2", "FR") == "base"
    assert plan(None, None) == "base"
    assert book.plan_for("someone-else", "b1", "DE", day) is None


def test_the_newest_version_in_effect_on_the_day_applies() -> None:
    book = _book(
        {
            "alpha": {
                "versions": [_cpa_version("2026-03-15", "150"), _cpa_version("2026-01-01", "100")],
                "assign": [{"affiliate": "x"}],
            }
        }
    )

    def amount(on: date) -> Decimal | None:
        found = book.plan_for("x", None, None, on)
        return None if found is None or found.cpa is None else found.cpa.amount

    assert amount(date(2025, 12, 31)) is None  # before the plan existed
    assert amount(date(2026, 1, 1)) == Decimal(100)
    assert amount(date(2026, 3, 14)) == Decimal(100)
    assert amount(date(2026, 3, 15)) == Decimal(150)
    # numbered in the order written, whatever their dates
    assert book.version("alpha", 1).effective_from == date(2026, 3, 15)
    assert book.version("alpha", 2).cpa == CpaTerms(amount=Decimal(100))
    assert [v.version for v in book.versions("alpha")] == [2, 1]
    with pytest.raises(KeyError):
        book.version("alpha", 3)


def test_hybrid_kind() -> None:
    book = _book(
        {
            "h": {
                "versions": [
                    _cpa_version()
                    | {"revshare": {"mode": "flat", "rate": "0.2"}, "sub_affiliate_share": "0.05"}
                ]
            }
        }
    )
    assert book.version("h", 1).kind == "hybrid"


def test_cpa_amount_most_specific_override() -> None:
    terms = CpaTerms.model_validate(
        {
            "amount": "100",
            "amounts": [
                {"country": "DE", "amount": "80"},
                {"brand_id": "b1", "amount": "120"},
                {"brand_id": "b1", "country": "DE", "amount": "90"},
            ],
        }
    )
    assert cpa_amount_for(terms, "b1", "DE") == Decimal(90)
    assert cpa_amount_for(terms, "b1", "FR") == Decimal(120)
    assert cpa_amount_for(terms, "b2", "DE") == Decimal(80)
    assert cpa_amount_for(terms, "b2", None) == Decimal(100)


def test_periods_are_calendar_months_in_the_commission_zone() -> None:
    malta = ZoneInfo("Europe/Malta")
    late = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)  # already February in Malta
    assert period_of(late, ZoneInfo("UTC")) == "2026-01"
    assert period_of(late, malta) == "2026-02"
    start, end = period_bounds("2026-12", malta)
    assert start == datetime(2026, 12, 1, tzinfo=malta)
    assert end == datetime(2027, 1, 1, tzinfo=malta)
    assert period_of(start, malta) == "2026-12" and period_of(end, malta) == "2027-01"
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_bounds("2026-13", malta)
    with pytest.raises(ValueError, match="aware"):
        period_of(datetime(2026, 1, 1), malta)  # noqa: DTZ001 - the refusal is the point
