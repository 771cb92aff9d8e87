"""RevShare ledgers worked by hand: flat, tiers crossed mid-period, ladder, the NGR formula,
negative carry-over over three periods, plan versions per period, hybrid, sub-affiliates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clickpath.domain.outputs import Outcome
from clickpath.domain.plans import NgrFormula
from tests.unit.domain.commission_factories import (
    Engine,
    at,
    banded,
    book,
    cpa,
    flat,
    policy,
    qualification,
    value,
    version,
)

D = Decimal


def engine_with(revshare, **plan) -> Engine:  # type: ignore[no-untyped-def]
    return Engine(policy(book([version(revshare=revshare, **plan)], {"aff-a": "p"})))


def test_flat_revshare_accrues_then_adjusts_as_ngr_moves() -> None:
    engine = engine_with(flat("0.25"))
    engine.send(value("p1", "2026-03", 1, ngr="400"))
    engine.send(value("p1", "2026-03", 2, ngr="1000"))
    engine.send(value("p2", "2026-03", 1, ngr="-200"))
    assert engine.of() == [
        ("2026-03", "revshare", "accrual", D("100.00"), None),
        ("2026-03", "revshare", "adjustment", D("150.00"), None),
        ("2026-03", "revshare", "adjustment", D("-50.00"), None),
    ]
    assert all(e.player_token is None for e in engine.entries)  # the period's, not a player's


def test_the_plan_formula_makes_the_ngr() -> None:
    # MGA-style: GGR x 83.5 % - bonus - (deposits + withdrawals) x 10 %
    formula = NgrFormula(gaming_tax_pct=D("16.5"), deposit_fee_pct=D(10), withdrawal_fee_pct=D(10))
    engine = engine_with(flat("0.30", ngr=formula))
    engine.send(value("p1", "2026-03", 1, stakes="1000", wins="400", bonus="50",
                      deposits="300", withdrawals="100"))
    # GGR 600 -> 501 - 50 - 40 = 411; 30 % = 123.30
    assert engine.total() == D("123.30")


def test_a_tier_crossed_mid_period_reprices_the_whole_period() -> None:
    engine = engine_with(banded("tiered", [("0", "0.25"), ("1000", "0.30")]))
    engine.send(value("p1", "2026-03", 1, ngr="600"))
    engine.send(value("p2", "2026-03", 1, ngr="600"))
    # 600 at 25 % = 150; 1200 reaches the 30 % band for all of it: 360, so +210
    assert engine.of() == [
        ("2026-03", "revshare", "accrual", D("150.00"), None),
        ("2026-03", "revshare", "adjustment", D("210.00"), "tier"),
    ]


def test_tiers_on_ftds() -> None:
    engine = engine_with(banded("tiered", [("0", "0.20"), ("2", "0.40")], threshold_on="ftds"))
    engine.send(value("p1", "2026-03", 1, ngr="500", ftds=1))
    engine.send(value("p2", "2026-03", 1, ngr="500", ftds=1))
    assert engine.total() == D("400.00")  # two FTDs: 40 % of 1000


def test_tiers_on_qualified_players_count_their_cpa_in_the_period() -> None:
    plan = version(cpa=cpa("10"), revshare=banded("tiered", [("0", "0.20"), ("1", "0.40")],
                                                   threshold_on="qualified"))
    engine = Engine(policy(book([plan], {"aff-a": "p"})))
    engine.send(value("p1", "2026-03", 1, ngr="1000"))
    assert engine.total(component="revshare") == D("200.00")
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    assert engine.total(component="revshare") == D("400.00")


def test_ladder_prices_each_band_on_its_slice() -> None:
    engine = engine_with(banded("ladder", [("0", "0.20"), ("1000", "0.30"), ("5000", "0.40")]))
    engine.send(value("p1", "2026-03", 1, ngr="6000"))
    # 1000 x 20 % + 4000 x 30 % + 1000 x 40 % = 200 + 1200 + 400
    assert engine.total() == D("1800.00")


def test_without_carry_over_a_negative_period_pays_nothing() -> None:
    engine = engine_with(flat("0.25"))
    engine.send(value("p1", "2026-03", 1, ngr="-1000"))
    engine.send(value("p1", "2026-04", 1, ngr="400"))
    assert engine.of() == [("2026-04", "revshare", "accrual", D("100.00"), None)]


def test_negative_carry_over_over_three_periods_re_evaluated_forward() -> None:
    engine = engine_with(flat("0.30", negative_carry_over=True))
    engine.send(value("p1", "2026-01", 1, ngr="-1000"))
    engine.send(value("p1", "2026-02", 1, ngr="500"))
    engine.send(value("p1", "2026-03", 1, ngr="2000"))
    assert engine.of() == [
        ("2026-01", "revshare", "accrual", D("-300.00"), None),
        ("2026-01", "revshare", "carry_over", D("300.00"), "carry_over"),
        ("2026-02", "revshare", "accrual", D("150.00"), None),
        ("2026-02", "revshare", "carry_over", D("-300.00"), "carry_over"),
        ("2026-02", "revshare", "carry_over", D("150.00"), "carry_over"),
        ("2026-03", "revshare", "accrual", D("600.00"), None),
        ("2026-03", "revshare", "carry_over", D("-150.00"), "carry_over"),
    ]
    totals = {p: engine.total(period=p) for p in ("2026-01", "2026-02", "2026-03")}
    assert totals == {"2026-01": D(0), "2026-02": D(0), "2026-03": D("450.00")}
    # January moves (a late win reversed): -200 NGR, -60 commission, and the chain follows
    engine.entries.clear()
    engine.send(value("p1", "2026-01", 2, ngr="-200"))
    assert engine.of() == [
        ("2026-01", "revshare", "adjustment", D("240.00"), None),
        ("2026-01", "revshare", "carry_over", D("-240.00"), "carry_over"),
        ("2026-02", "revshare", "carry_over", D("240.00"), "carry_over"),
        ("2026-02", "revshare", "carry_over", D("-150.00"), "carry_over"),
        ("2026-03", "revshare", "carry_over", D("150.00"), "carry_over"),
    ]


def test_the_carry_waits_for_the_next_period_with_activity() -> None:
    engine = engine_with(flat("0.30", negative_carry_over=True))
    engine.send(value("p1", "2026-01", 1, ngr="-1000"))
    engine.entries.clear()
    engine.send(value("p1", "2026-03", 1, ngr="2000"))  # nothing in February
    assert engine.of() == [
        ("2026-03", "revshare", "accrual", D("600.00"), None),
        ("2026-03", "revshare", "carry_over", D("-300.00"), "carry_over"),
    ]


def test_a_plan_version_dated_mid_month_applies_from_the_next_period() -> None:
    plans = book([version(revshare=flat("0.20")),
                  version(number=2, effective_from=date(2026, 3, 15), revshare=flat("0.30"))],
                 {"aff-a": "p"})
    engine = Engine(policy(plans))
    engine.send(value("p1", "2026-03", 1, ngr="1000"))
    engine.send(value("p1", "2026-04", 1, ngr="1000"))
    assert [(e.period, e.amount, e.plan_version) for e in engine.entries] == [
        ("2026-03", D("200.00"), 1), ("2026-04", D("300.00"), 2)
    ]


def test_revshare_in_the_payout_currency_at_the_rate_of_the_period_first_day() -> None:
    plans = book([version(currency="EUR", revshare=flat("0.25"))], {"aff-a": "p"})
    rates = [("GBP", "1.2", date(2026, 1, 1)), ("GBP", "1.1", date(2026, 3, 2)),
             ("USD", "0.8", date(2026, 1, 1))]
    engine = Engine(policy(plans, payout={"aff-a": "USD"}, rates=rates))
    engine.send(value("p1", "2026-03", 1, ngr="100", currency="GBP"))
    # 100 GBP = 120 EUR on March 1; 25 % = 30 EUR = 37.50 USD
    [entry] = engine.entries
    assert (entry.amount, entry.currency, entry.original_amount, entry.original_currency,
            entry.fx_rate) == (D("37.50"), "USD", D("30"), "EUR", D("1.25"))


def test_a_chargeback_that_lowers_revshare_is_a_clawback() -> None:
    engine = engine_with(flat("0.25"))
    engine.send(value("p1", "2026-03", 1, ngr="400"))
    engine.send(value("p1", "2026-03", 2, stakes="400", chargebacks="100", cause="chargeback"))
    assert engine.of()[-1] == ("2026-03", "revshare", "clawback", D("-25.00"), None)


def test_hybrid_pays_the_cpa_and_the_revshare() -> None:
    engine = Engine(policy(book([version(cpa=cpa("50"), revshare=flat("0.25"))], {"aff-a": "p"})))
    engine.send(value("p1", "2026-03", 1, ngr="400"))
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    assert engine.of() == [
        ("2026-03", "revshare", "accrual", D("100.00"), None),
        ("2026-03", "cpa", "accrual", D("50.00"), None),
    ]


def test_a_parent_earns_its_share_of_each_difference_in_its_child_commission() -> None:
    plans = book([version(cpa=cpa("100"), revshare=flat("0.25")),
                  version("parent", revshare=flat("0"), sub_affiliate_share="0.10")],
                 {"aff-c": "p", "aff-p": "parent"})
    engine = Engine(policy(plans, parents={"aff-c": "aff-p"}))
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-05"), affiliate="aff-c"))
    engine.send(value("p1", "2026-03", 1, ngr="400", affiliate="aff-c"))
    engine.send(qualification("p1", 2, "reversed", qualified_at=at("2026-03-05"),
                              occurred_at=at("2026-04-02"), reason="chargeback",
                              affiliate="aff-c"))
    parent = [(e.period, e.kind, e.amount) for e in engine.entries if e.affiliate_id == "aff-p"]
    assert parent == [("2026-03", "accrual", D("10.00")), ("2026-03", "adjustment", D("10.00")),
                      ("2026-04", "accrual", D("-10.00"))]
    assert all(e.component == "sub_affiliate" and e.plan_id == "parent"
               for e in engine.entries if e.affiliate_id == "aff-p")


def test_a_retag_takes_the_players_ngr_out_of_the_old_affiliate() -> None:
    engine = engine_with(flat("0.25"))
    engine.send(value("p1", "2026-03", 1, ngr="400"))
    engine.send(value("p1", "2026-03", 2, ngr="0", wagers=0, cause="retag"))
    assert engine.of()[-1] == ("2026-03", "revshare", "adjustment", D("-100.00"), "retag")
    assert engine.total() == 0


def test_a_value_naming_no_calendar_month_is_not_priced() -> None:
    engine = engine_with(flat("0.25"))
    for period in ("2026-13", "26-03", "2026-3"):
        written, outcome = engine.send(value("p1", period, 1, ngr="400",
                                             occurred_at=at("2026-03-15")))
        assert (written, outcome) == ([], Outcome.DUPLICATE)
