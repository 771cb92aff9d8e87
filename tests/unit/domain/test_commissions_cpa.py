"""CPA ledgers worked by hand: once per player, the monthly cap, reversals and clawbacks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import permutations

from clickpath.domain.outputs import Outcome
from tests.unit.domain.commission_factories import (
    Engine,
    at,
    book,
    cpa,
    policy,
    qualification,
    token,
    version,
)

D = Decimal
CPA = policy(book([version(cpa=cpa("100"))], {"aff-a": "p"}))


def test_a_cpa_accrues_once_in_the_period_it_qualified_whatever_the_order_and_duplicates() -> None:
    pending = qualification("p1", 1, "pending", occurred_at=at("2026-03-02"))
    qualified = qualification("p1", 2, qualified_at=at("2026-03-05"))
    results = set()
    for order in permutations([pending, qualified, qualified, pending]):
        engine = Engine(CPA)
        for record in order:
            engine.send(record)
        results.add(tuple((e.entry_id, e.period, e.kind, e.amount) for e in engine.entries))
    assert len(results) == 1  # every order: the same entry, the same id
    [(_, period, kind, amount)] = results.pop()
    assert (period, kind, amount) == ("2026-03", "accrual", D("100.00"))


def test_a_duplicate_writes_nothing_and_a_replay_sends_exactly_what_it_wrote() -> None:
    engine = Engine(CPA)
    record = qualification("p1", 1, qualified_at=at("2026-03-05"))
    written, outcome = engine.send(record)
    assert outcome is Outcome.ACCEPTED
    [entry] = written
    assert (entry.amount, entry.currency, entry.plan_id, entry.plan_version) == (
        D("100.00"), "EUR", "p", 1
    )
    assert entry.player_token == token("p1")
    assert entry.caused_by == ["q-p1-1"]
    # The cohort report's key: the player's registration, brand and campaign.
    assert (entry.registered_at, entry.player_brand_id, entry.player_campaign_id) == (
        at("2026-01-01"), "b1", "camp-1"
    )
    assert engine.send(record) == ([], Outcome.DUPLICATE)
    assert engine.replay(record) == [entry]


def test_the_monthly_cap_pays_the_earliest_and_a_late_earlier_one_bumps_the_last() -> None:
    engine = Engine(policy(book([version(cpa=cpa("100", monthly_cap=2))], {"aff-a": "p"})))
    engine.send(qualification("a", 1, qualified_at=at("2026-03-03")))
    engine.send(qualification("b", 1, qualified_at=at("2026-03-05")))
    engine.send(qualification("c", 1, qualified_at=at("2026-03-07")))
    assert engine.of(player_token=token("c")) == [
        ("2026-03", "cpa", "accrual", D("0.00"), "monthly_cap")
    ]
    engine.send(qualification("d", 1, qualified_at=at("2026-03-01")))
    assert engine.of(player_token=token("d")) == [("2026-03", "cpa", "accrual", D("100.00"), None)]
    assert engine.of(player_token=token("b")) == [
        ("2026-03", "cpa", "accrual", D("100.00"), None),
        ("2026-03", "cpa", "clawback", D("-100.00"), "monthly_cap"),
    ]
    assert engine.total(period="2026-03") == D("200.00")


def test_a_qualification_moved_to_another_period_moves_its_cpa() -> None:
    engine = Engine(CPA)
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-31", 23)))
    engine.send(qualification("p1", 2, qualified_at=at("2026-04-01", 1)))
    assert engine.of() == [
        ("2026-03", "cpa", "accrual", D("100.00"), None),
        ("2026-03", "cpa", "clawback", D("-100.00"), "requalified"),
        ("2026-04", "cpa", "accrual", D("100.00"), None),
    ]


def test_a_chargeback_reversal_within_the_window_claws_back_in_the_reversal_period() -> None:
    engine = Engine(CPA)
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    engine.send(qualification("p1", 2, "reversed", qualified_at=at("2026-03-05"),
                              occurred_at=at("2026-04-02"), reason="chargeback"))
    assert engine.of() == [
        ("2026-03", "cpa", "accrual", D("100.00"), None),
        ("2026-04", "cpa", "clawback", D("-100.00"), "chargeback"),
    ]
    # The same two in the other order end at the same ledger (the reversal says when it qualified)
    other = Engine(CPA)
    other.send(qualification("p1", 2, "reversed", qualified_at=at("2026-03-05"),
                             occurred_at=at("2026-04-02"), reason="chargeback"))
    other.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    assert other.nets() == engine.nets()


def test_a_reversal_after_the_clawback_window_leaves_the_cpa_standing() -> None:
    engine = Engine(policy(book([version(cpa=cpa("100", clawback_days=30))], {"aff-a": "p"})))
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    written, _ = engine.send(qualification("p1", 2, "reversed", occurred_at=at("2026-04-20"),
                                           reason="chargeback"))
    assert written == []
    assert engine.total() == D("100.00")


def test_the_amount_follows_the_brand_override_and_the_rate_of_the_qualified_day() -> None:
    terms = cpa("100", amounts=[{"brand_id": "b1", "amount": D("80")}])
    plans = book([version(currency="USD", cpa=terms)], {"aff-a": "p"})
    # 1 USD = 0.9 EUR until March 10, then 0.925
    engine = Engine(policy(plans, rates=[("USD", "0.9", date(2026, 1, 1)),
                                         ("USD", "0.925", date(2026, 3, 10))]))
    [first], _ = engine.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    [second], _ = engine.send(qualification("p2", 1, qualified_at=at("2026-03-12")))
    assert (first.amount, first.original_amount, first.original_currency, first.fx_rate) == (
        D("72.00"), D("80"), "USD", D("0.9")
    )
    assert second.amount == D("74.00")


def test_a_new_plan_version_prices_the_players_qualified_under_it() -> None:
    plans = book([version(cpa=cpa("100")), version(number=2, effective_from=date(2026, 4, 1),
                                                   cpa=cpa("150"))], {"aff-a": "p"})
    engine = Engine(policy(plans))
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-05"), plan=("p", 1)))
    engine.send(qualification("p2", 1, qualified_at=at("2026-04-05"), plan=("p", 2)))
    assert [(e.period, e.amount, e.plan_version) for e in engine.entries] == [
        ("2026-03", D("100.00"), 1), ("2026-04", D("150.00"), 2)
    ]


def test_a_qualification_naming_no_known_plan_writes_nothing() -> None:
    engine = Engine(CPA)
    written, outcome = engine.send(qualification("p1", 1, qualified_at=at("2026-03-05"),
                                                 plan=("nope", 1)))
    assert (written, outcome) == ([], Outcome.ACCEPTED)


def test_a_currency_without_a_rate_writes_nothing_until_a_record_finds_one() -> None:
    engine = Engine(policy(book([version(currency="USD", cpa=cpa("100"))], {"aff-a": "p"})))
    written, outcome = engine.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    assert (written, outcome) == ([], Outcome.ACCEPTED)


def test_a_retag_takes_the_cpa_back_from_the_old_affiliate() -> None:
    engine = Engine(CPA)
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    engine.send(qualification("p1", 2, "none", qualified_at=at("2026-03-05"), reason="retag",
                              occurred_at=at("2026-03-09"), campaign="camp-of-the-new-affiliate"))
    assert engine.of()[-1] == ("2026-03", "cpa", "clawback", D("-100.00"), "retag")
    # The clawback nets out in the cohort the accrual counted in: the old campaign's.
    assert {e.player_campaign_id for e in engine.entries} == {"camp-1"}
