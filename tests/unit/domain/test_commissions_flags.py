"""Crafted fraud flags: a hold takes a player's CPA and NGR out until its release; a clawback
takes them out for good (the CPA only within the plan's window); flags count once."""

from __future__ import annotations

from decimal import Decimal

from clickpath.domain.outputs import Outcome
from tests.unit.domain.commission_factories import (
    Engine,
    at,
    book,
    cpa,
    flag,
    flat,
    policy,
    qualification,
    token,
    value,
    version,
)

D = Decimal
HYBRID = policy(book([version(cpa=cpa("100", clawback_days=60), revshare=flat("0.25"))],
                     {"aff-a": "p"}))


def journey(engine: Engine) -> None:
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    engine.send(value("p1", "2026-03", 1, ngr="400"))
    engine.send(value("p2", "2026-03", 1, ngr="200"))


def test_a_hold_and_its_release() -> None:
    engine = Engine(HYBRID)
    journey(engine)
    assert engine.total(period="2026-03") == D("250.00")
    engine.entries.clear()
    engine.send(flag("f1", "p1", "hold", at("2026-03-20")))
    assert engine.of() == [
        ("2026-03", "cpa", "adjustment", D("-100.00"), "fraud_hold"),
        ("2026-03", "revshare", "adjustment", D("-100.00"), "fraud_hold"),
    ]
    assert engine.entries[0].player_token == token("p1")
    # New activity while held does not count
    engine.send(value("p1", "2026-03", 2, ngr="800"))
    assert engine.total() == D("-200.00")
    engine.entries.clear()
    engine.send(flag("f2", "p1", "release", at("2026-03-25")))
    assert engine.of() == [
        ("2026-03", "cpa", "adjustment", D("100.00"), "fraud_release"),
        ("2026-03", "revshare", "adjustment", D("200.00"), "fraud_release"),
    ]


def test_a_release_arriving_before_its_hold_leaves_the_player_released() -> None:
    engine = Engine(HYBRID)
    journey(engine)
    engine.send(flag("f2", "p1", "release", at("2026-03-25")))
    engine.send(flag("f1", "p1", "hold", at("2026-03-20")))
    assert engine.total(period="2026-03") == D("250.00")


def test_a_flag_counts_once() -> None:
    engine = Engine(HYBRID)
    journey(engine)
    hold = flag("f1", "p1", "hold", at("2026-03-20"))
    written, _ = engine.send(hold)
    assert engine.send(hold) == ([], Outcome.DUPLICATE)
    assert engine.replay(hold) == written


def test_a_fraud_clawback_takes_the_cpa_back_in_its_period_and_the_ngr_for_good() -> None:
    engine = Engine(HYBRID)
    journey(engine)
    engine.entries.clear()
    engine.send(flag("f1", "p1", "clawback", at("2026-04-10")))
    engine.send(flag("f2", "p1", "release", at("2026-04-11")))
    assert engine.of() == [
        ("2026-04", "cpa", "clawback", D("-100.00"), "fraud_clawback"),
        ("2026-03", "revshare", "clawback", D("-100.00"), "fraud_clawback"),
    ]


def test_a_fraud_clawback_after_the_window_leaves_the_cpa_standing() -> None:
    engine = Engine(HYBRID)
    journey(engine)
    engine.entries.clear()
    engine.send(flag("f1", "p1", "clawback", at("2026-06-10")))  # 97 days after qualifying
    assert engine.of() == [("2026-03", "revshare", "clawback", D("-100.00"), "fraud_clawback")]
