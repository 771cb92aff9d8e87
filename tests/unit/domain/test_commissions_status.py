"""Each player's status and reason codes (domain/commissions/status.py): a function of what the
stage holds, whatever order the records came in, and sent only when it changes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from itertools import permutations

import pytest

from clickpath.domain.commissions.state import FlagMark
from clickpath.domain.commissions.status import flag_verdict, player_status
from tests.unit.domain.commission_factories import (
    Engine,
    at,
    book,
    cpa,
    flag,
    policy,
    qualification,
    token,
    version,
)

D = Decimal
CAPPED = policy(book([version(cpa=cpa("100", monthly_cap=2, clawback_days=60))], {"aff-a": "p"}))
T = at("2026-03-10")


def mark(action: str, minutes: int, kind: str | None = "fraud") -> FlagMark:
    return FlagMark(action=action, flagged_at=T + timedelta(minutes=minutes), kind=kind)


@pytest.mark.parametrize(("q", "reason", "over_cap", "flags", "expected"), [
    ("qualified", None, False, {}, ("qualified", [])),
    ("pending", "kyc_missing", False, {}, ("pending", ["kyc_missing"])),
    ("pending", "outside_window", False, {}, ("pending", ["outside_window"])),
    ("qualified", None, True, {}, ("qualified", ["monthly_cap"])),
    ("reversed", "chargeback", False, {}, ("reversed", ["chargeback"])),
    ("none", "retag", False, {"f": mark("hold", 0)}, ("not_attributed", ["fraud_hold", "retag"])),
    ("qualified", None, False, {"f": mark("hold", 0)}, ("held", ["fraud_hold"])),
    ("pending", "kyc_missing", False, {"f": mark("hold", 0, "duplicate_account")},
     ("held", ["duplicate_account", "fraud_hold", "kyc_missing"])),
    ("qualified", None, False, {"f": mark("clawback", 0, "self_excluded")},
     ("reversed", ["fraud_clawback", "self_excluded"])),
    ("reversed", "chargeback", False, {"f": mark("hold", 0)},
     ("reversed", ["chargeback", "fraud_hold"])),
    # a released hold is no reason any more; an uncoded kind never shows
    ("qualified", None, False, {"f": mark("hold", 0, "duplicate_account"), "g": mark("release", 5)},
     ("qualified", [])),
    ("qualified", None, False, {"f": mark("hold", 0, "velocity")}, ("held", ["fraud_hold"])),
])
def test_the_status_of_each_case(q, reason, over_cap, flags, expected) -> None:
    assert player_status(q, reason, over_cap, flags) == expected


def test_the_flags_give_the_same_verdict_in_any_order() -> None:
    marks = [("a", mark("hold", 0, "duplicate_account")), ("b", mark("release", 5)),
             ("c", mark("hold", 9, "self_excluded")), ("d", mark("hold", 7, "fraud"))]
    verdicts = set()
    for order in permutations(marks):
        status, reasons = player_status("qualified", None, False, dict(order))
        verdicts.add(((status, tuple(reasons)), flag_verdict(dict(order))))
    assert verdicts == {(("held", ("fraud_hold", "self_excluded")),
                         ("held", frozenset({"self_excluded", "fraud"})))}


def newest(engine: Engine) -> dict[str, tuple[str, tuple[str, ...], Decimal]]:
    out = {}
    for person in ("p1", "p2", "p3", "p4"):
        s = engine.status(person)
        if s is not None:
            out[person] = (s.status, tuple(s.reasons), s.cpa_amount)
    return out


def test_the_same_records_in_any_order_end_at_the_same_statuses() -> None:
    records = [
        qualification("p1", 1, qualified_at=at("2026-03-05")),
        qualification("p2", 1, qualified_at=at("2026-03-03")),
        qualification("p3", 1, qualified_at=at("2026-03-01")),  # p1 goes over the cap of 2
        qualification("p4", 1, "pending", reason="ftd_below_minimum"),
        flag("f1", "p2", "hold", at("2026-03-20"), kind="duplicate_account"),
        flag("f2", "p3", "clawback", at("2026-03-21"), kind="self_excluded"),
    ]
    ends = set()
    for order in permutations(records):
        engine = Engine(CAPPED)
        for record in order:
            engine.send(record)
        ends.add(tuple(sorted(newest(engine).items())))
    assert ends == {tuple(sorted({
        "p1": ("qualified", ("monthly_cap",), D("0.00")),
        "p2": ("held", ("duplicate_account", "fraud_hold"), D("0.00")),
        "p3": ("reversed", ("fraud_clawback", "self_excluded"), D("0.00")),
        "p4": ("pending", ("ftd_below_minimum",), D(0)),
    }.items()))}


def test_a_status_is_sent_only_when_it_changes_and_carries_the_token_only() -> None:
    engine = Engine(CAPPED)
    engine.send(qualification("p1", 1, "pending", reason="kyc_missing"))
    engine.send(qualification("p1", 2, "pending", reason="kyc_missing",
                              occurred_at=at("2026-03-02")))  # a newer version saying the same
    assert [(s.status, s.version) for s in engine.statuses] == [("pending", 1)]
    engine.send(qualification("p1", 3, qualified_at=at("2026-03-05")))
    engine.send(flag("f1", "p1", "hold", at("2026-03-20")))
    engine.send(flag("f1", "p1", "hold", at("2026-03-20")))  # seen: nothing
    engine.send(flag("f2", "p1", "release", at("2026-03-25")))
    assert [(s.status, s.reasons, s.cpa_amount, s.version) for s in engine.statuses] == [
        ("pending", ["kyc_missing"], D(0), 1),
        ("qualified", [], D("100.00"), 2),
        ("held", ["fraud_hold"], D("0.00"), 3),
        ("qualified", [], D("100.00"), 4),
    ]
    assert {s.player_token for s in engine.statuses} == {token("p1")}
    assert all("p1" not in s.model_dump_json() for s in engine.statuses)


def test_a_clawback_flag_after_the_window_keeps_the_cpa_and_says_so() -> None:
    engine = Engine(CAPPED)  # clawback_days 60
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    engine.send(flag("f1", "p1", "clawback", at("2026-06-01"), kind="self_excluded"))
    late = engine.status("p1")
    assert late is not None
    assert (late.status, late.reasons, late.cpa_amount) == (
        "qualified", ["fraud_clawback", "self_excluded"], D("100.00"))
    engine.send(qualification("p2", 1, qualified_at=at("2026-03-05")))
    engine.send(flag("f2", "p2", "clawback", at("2026-04-01")))
    early = engine.status("p2")
    assert early is not None
    assert (early.status, early.reasons, early.cpa_amount) == (
        "reversed", ["fraud_clawback"], D("0.00"))


def test_consent_not_known_is_not_sharing_and_a_grant_shares() -> None:
    engine = Engine(CAPPED)
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-05")))  # shares_data None
    engine.send(qualification("p1", 2, qualified_at=at("2026-03-05")).model_copy(
        update={"shares_data": True}))
    assert [(s.shares_data, s.version) for s in engine.statuses] == [(False, 1), (True, 2)]


def test_consent_withdrawn_is_carried_and_a_replay_sends_the_same_status() -> None:
    engine = Engine(CAPPED)
    q = qualification("p1", 1, qualified_at=at("2026-03-05")).model_copy(
        update={"shares_data": False})
    engine.send(q)
    [sent] = engine.statuses
    assert sent.shares_data is False
    state = engine.states["aff-a"]
    assert state is not None
    from clickpath.domain.commissions import replay_commissions

    again = replay_commissions(state, q, CAPPED, at("2026-06-01"), ledger=engine.ledgers["aff-a"])
    assert [o.record for o in again if o.record == sent] == [sent]
