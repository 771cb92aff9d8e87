"""The earnings decision: period values and CPA qualification, in every order, once each."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from clickpath.contracts.models import Click, Deposit, PlayerPeriodValue
from clickpath.domain.earnings import decide_earnings, period_of, replay_earnings, wants_record
from clickpath.domain.ledger_rows import RowKind, kind_of
from clickpath.domain.outputs import Outcome, canonical_of
from tests.factories import at, deposit, registration
from tests.unit.domain.earnings_helpers import (
    NOW,
    Cpa,
    canonical,
    chargeback,
    kyc,
    newest,
    policy,
    profile,
    run,
    wager,
)

FULL = Cpa(min_first_deposit=Decimal("20"), min_total_deposits=Decimal("50"), kyc_verified=True,
           min_wagering=Decimal("30"))


def test_every_order_of_the_conditions_gives_the_same_qualified_at() -> None:
    pol = policy(FULL)
    events = [
        canonical(deposit("p1", "t1", "25", minutes=10)),
        canonical(deposit("p1", "t2", "30", minutes=20)),  # total 55 >= 50 here
        canonical(kyc(30)),
        canonical(wager("w1", "10", 40)),
        canonical(wager("w2", "25", 50)),  # stakes 35 >= 30 here: the last condition
    ]
    head = [profile(1, registered_at=at(1)), canonical(registration("p1", None))]
    seen = set()
    for order in itertools.permutations(events):
        _, outputs, _ = run([*head, *order], pol)
        q = newest(outputs)[1]["aff-a"]
        seen.add((q.status, q.qualified_at, tuple(sorted(q.caused_by))))
    assert seen == {("qualified", at(50), tuple(sorted(
        ["ev-dep-t1", "ev-dep-t2", "ev-kyc-30", "ev-w2"])))}


def test_an_earlier_wager_arriving_later_moves_qualified_at_earlier() -> None:
    pol = policy(Cpa(min_first_deposit=Decimal("20"), min_wagering=Decimal("30")))
    head = [profile(1, registered_at=at(1)), canonical(registration("p1", None)),
            canonical(deposit("p1", "t1", "25", minutes=10))]
    state, outputs, ledger = run([*head, canonical(wager("w2", "30", 60))], pol)
    assert newest(outputs)[1]["aff-a"].qualified_at == at(60)
    _, more, _ = run([canonical(wager("w1", "30", 40))], pol, state, ledger)
    q = newest(more)[1]["aff-a"]
    assert (q.status, q.qualified_at) == ("qualified", at(40))
    assert q.version > newest(outputs)[1]["aff-a"].version


def test_pending_reasons_and_window() -> None:
    pol = policy(FULL)
    head = [profile(1, registered_at=at(1)), canonical(registration("p1", None))]
    _, out, _ = run([*head, canonical(deposit("p1", "t1", "10", minutes=5))], pol)
    assert newest(out)[1]["aff-a"].reason == "ftd_below_minimum"
    _, out, _ = run([*head, canonical(deposit("p1", "t1", "25", minutes=5))], pol)
    assert newest(out)[1]["aff-a"].reason == "deposits_below_minimum"
    late = 31 * 24 * 60
    records = [*head, canonical(deposit("p1", "t1", "60", minutes=5)), canonical(kyc(late)),
               canonical(wager("w1", "40", 6))]
    _, out, _ = run(records, pol)
    q = newest(out)[1]["aff-a"]
    assert (q.status, q.reason) == ("pending", "outside_window")


def test_no_cpa_terms_is_none_no_plan() -> None:
    _, out, _ = run([profile(1, affiliate="aff-x", registered_at=at(1)),
                     canonical(deposit("p1", "t1", "25"))], policy())
    q = newest(out)[1]["aff-x"]
    assert (q.status, q.reason) == ("none", "no_plan")


def test_duplicates_and_resent_canonical_events_change_nothing() -> None:
    pol = policy()
    records = [profile(1, registered_at=at(1), ftd=(at(5), "25")),
               canonical(deposit("p1", "t1", "25", minutes=5)),
               canonical(wager("w1", "10", 6, win="4")), canonical(chargeback("cb1", "t1", "25", 7))]
    state, outputs, ledger = run(records, pol)
    assert state is not None
    for record in records:
        again, outs, outcome = decide_earnings(state, record, pol, NOW, ledger=ledger)
        assert (outs, outcome, again.version) == ([], Outcome.DUPLICATE, state.version)
    # the same deposit again under a new event id (a door's duplicate) counts once too
    dup = canonical(deposit("p1", "t1", "25", minutes=5, event_id="ev-other"))
    assert decide_earnings(state, dup, pol, NOW, ledger=ledger)[2] is Outcome.DUPLICATE
    value = newest(outputs)[0][("aff-a", "2026-11", "EUR")]
    assert (value.deposit_sum, value.deposits, value.ftds, value.stakes, value.wins) == (
        Decimal("25"), 1, 1, Decimal("10"), Decimal("4"))
    assert (value.chargeback_sum, value.real_wagers, value.cause) == (
        Decimal("25"), 1, "chargeback")


def test_the_ftd_is_the_profiles_and_moves_with_it() -> None:
    pol = policy()
    next_month = 60 * 24 * 40
    records = [profile(1, registered_at=at(1), ftd=(at(5), "25")),
               canonical(deposit("p1", "t1", "25", minutes=5)),
               canonical(deposit("p1", "t2", "40", minutes=next_month)),
               canonical(deposit("p1", "t1", "25", minutes=8, status="refunded")),
               profile(2, registered_at=at(1), ftd=(at(next_month), "40"))]  # the refund moved it
    state, outputs, ledger = run(records, pol)
    assert state is not None and state.ftd == ("2026-12", "EUR")
    values = newest(outputs)[0]
    assert (values[("aff-a", "2026-11", "EUR")].ftds, values[("aff-a", "2026-12", "EUR")].ftds) == (
        0, 1)
    assert values[("aff-a", "2026-11", "EUR")].deposit_sum == 0
    # No day rows and no FTD candidates: the player stage keeps those.
    assert {kind_of(row) for row in ledger.rows} <= {RowKind.PERIOD, RowKind.EVIDENCE,
                                                      RowKind.PAYMENT}


def test_a_profile_ahead_of_the_deposits_counts_the_ftd_in_its_period_at_once() -> None:
    pol = policy()
    state, outputs, _ = run([profile(1, registered_at=at(1), ftd=(at(5), "25"))], pol)
    assert state is not None
    [value] = newest(outputs)[0].values()
    assert (value.period, value.ftds, value.deposits) == ("2026-11", 1, 0)
    _, outputs, _ = run([profile(1, registered_at=at(1), ftd=(at(5), "25")),
                         canonical(deposit("p1", "t1", "25", minutes=5))], pol)
    [value] = newest(outputs)[0].values()
    assert (value.ftds, value.deposits, value.deposit_sum) == (1, 1, Decimal("25"))


def test_a_chargeback_within_the_clawback_window_reverses_for_good() -> None:
    pol = policy()
    head = [profile(1, registered_at=at(1)), canonical(deposit("p1", "t1", "25", minutes=5))]
    state, outputs, ledger = run([*head, canonical(chargeback("cb1", "t1", "25", 60))], pol)
    q = newest(outputs)[1]["aff-a"]
    assert (q.status, q.reason, q.qualified_at, q.caused_by) == (
        "reversed", "chargeback", at(5), ["ev-cb1"])
    # a later deposit does not make the player qualify again
    later, more, _ = run([canonical(deposit("p1", "t2", "50", minutes=90))], pol, state, ledger)
    assert later is not None and later.qualification is not None
    assert later.qualification.status == "reversed"
    assert newest(more)[0][("aff-a", "2026-11", "EUR")].deposit_sum == Decimal("75")


def test_a_chargeback_arriving_before_its_deposit_gives_the_same_answer() -> None:
    events = [canonical(deposit("p1", "t1", "25", minutes=2)),
              canonical(chargeback("cb1", "t1", "25", 3))]
    seen = set()
    for order in (events, events[::-1]):
        _, outputs, _ = run([profile(1, registered_at=at(1)), *order], policy())
        q = newest(outputs)[1]["aff-a"]
        seen.add((q.status, q.reason, q.qualified_at))
    assert seen == {("reversed", "chargeback", at(2))}


def test_a_deposit_charged_back_before_the_last_condition_never_counts() -> None:
    pol = policy(Cpa(kyc_verified=True))
    _, outputs, _ = run([profile(1, registered_at=at(1)),
                         canonical(deposit("p1", "t1", "25", minutes=2)),
                         canonical(chargeback("cb1", "t1", "25", 3)), canonical(kyc(4))], pol)
    q = newest(outputs)[1]["aff-a"]
    assert (q.status, q.reason) == ("pending", "ftd_below_minimum")


def test_a_chargeback_after_the_clawback_window_keeps_the_cpa() -> None:
    pol = policy(Cpa(clawback_days=1))
    _, outputs, _ = run([profile(1, registered_at=at(1)),
                         canonical(deposit("p1", "t1", "25", minutes=5)),
                         canonical(chargeback("cb1", "t1", "25", 60 * 24 * 2))], pol)
    assert newest(outputs)[1]["aff-a"].status == "qualified"


def test_a_retag_moves_every_value_and_the_qualification() -> None:
    pol = policy()
    records = [profile(1, registered_at=at(1)), canonical(deposit("p1", "t1", "25", minutes=5)),
               profile(2, affiliate="aff-b", registered_at=at(1))]
    _, outputs, _ = run(records, pol)
    values, quals = newest(outputs)
    assert values[("aff-a", "2026-11", "EUR")].deposit_sum == 0
    assert values[("aff-a", "2026-11", "EUR")].cause == "retag"
    assert values[("aff-b", "2026-11", "EUR")].deposit_sum == Decimal("25")
    assert (quals["aff-a"].status, quals["aff-a"].reason) == ("none", "retag")
    assert (quals["aff-b"].status, quals["aff-b"].reason) == ("none", "no_plan")
    assert {o.key for o in outputs} == {"aff-a", "aff-b"}


def test_nothing_is_sent_while_unattributed_then_everything_on_the_tag() -> None:
    pol = policy()
    state, outputs, ledger = run(
        [profile(1, status="unattributed", affiliate="", registered_at=at(1)),
         canonical(deposit("p1", "t1", "25", minutes=5))], pol)
    assert outputs == []
    _, more, _ = run([profile(2, registered_at=at(1))], pol, state, ledger)
    values, quals = newest(more)
    assert values[("aff-a", "2026-11", "EUR")].deposit_sum == Decimal("25")
    assert quals["aff-a"].status == "qualified"


def test_periods_follow_the_commission_time_zone() -> None:
    late = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 February in Berlin
    event = Deposit(event_id="ev-d", occurred_at=late, brand_id="brand-a", source="crm",
                    player_id="p1", transaction_id="t1", amount=Decimal("25"), currency="EUR")
    for tz, period in (("Europe/Berlin", "2026-02"), ("UTC", "2026-01")):
        _, outputs, _ = run([profile(1, registered_at=late), canonical(event)], policy(tz=tz))
        periods = {o.record.period for o in outputs if isinstance(o.record, PlayerPeriodValue)}
        assert periods == {period}
        q = newest(outputs)[1]["aff-a"]
        assert q.qualified_at == late  # the real event time, not the local wall clock


def test_period_of() -> None:
    from zoneinfo import ZoneInfo

    assert period_of(datetime(2026, 1, 31, 23, 30, tzinfo=UTC), ZoneInfo("Europe/Berlin")) == (
        "2026-02")


def test_replay_sends_the_current_values_and_qualification_again() -> None:
    pol = policy()
    records = [profile(1, registered_at=at(1)), canonical(deposit("p1", "t1", "25", minutes=5))]
    state, outputs, ledger = run(records, pol)
    assert state is not None
    again = replay_earnings(state, records[1], pol, NOW, ledger=ledger)
    values, quals = newest(again)
    assert values[("aff-a", "2026-11", "EUR")].deposit_sum == Decimal("25")
    assert values[("aff-a", "2026-11", "EUR")].cause == "replay"
    assert quals["aff-a"] == newest(outputs)[1]["aff-a"]
    assert (quals["aff-a"].brand_id, quals["aff-a"].campaign_id) == ("brand-a", "camp-1")


def test_wants_no_click_canonical_events() -> None:
    click = Click(event_id="ev-c", occurred_at=at(0), brand_id="brand-a", source="tracker",
                  click_id="c1", affiliate_id="aff-a", campaign_id="camp")
    assert not wants_record(canonical_of(click, "c1", NOW))
    assert wants_record(canonical(deposit("p1", "t1", "25")))
    assert wants_record(profile(1))
    assert not wants_record(object())


def test_every_row_it_writes_is_of_a_registered_kind() -> None:
    _, _, ledger = run([profile(1, registered_at=at(1)), canonical(deposit("p1", "t1", "25")),
                        canonical(wager("w1", "5", 3)), canonical(chargeback("c", "t1", "25", 4))],
                       policy(Cpa(min_wagering=Decimal("100"))))
    kinds = {kind_of(row) for row in ledger.rows}
    assert {RowKind.PERIOD, RowKind.EVIDENCE} <= kinds



def test_the_same_events_duplicated_and_reordered_give_the_same_values_and_qualification() -> (
        None):
    import random

    pol = policy(FULL)
    story = [
        profile(1, registered_at=at(1), ftd=(at(10), "25")), canonical(registration("p1", None)),
        canonical(deposit("p1", "t1", "25", minutes=10)),
        canonical(deposit("p1", "t2", "30", minutes=20, status="pending")),
        canonical(deposit("p1", "t2", "30", minutes=21)),
        canonical(deposit("p1", "t3", "40", minutes=60 * 24 * 35)),
        canonical(deposit("p1", "t3", "40", minutes=60 * 24 * 36, status="refunded")),
        canonical(kyc(30)), canonical(wager("w1", "10", 40, win="5")),
        canonical(wager("w2", "25", 50)), canonical(chargeback("cb1", "t2", "30", 70)),
    ]

    def final(records: list) -> tuple:
        _, outputs, _ = run(records, pol)
        values, quals = newest(outputs)
        drop = {"version", "caused_by", "cause", "occurred_at"}
        lines = ("stakes", "wins", "bonus_cost", "chargeback_sum", "deposit_sum",
                 "withdrawal_sum", "deposits", "ftds", "real_wagers")
        return (  # a period of zeros is the same value as no period
            {k: v.model_dump(exclude=drop) for k, v in values.items()
             if any(getattr(v, line) for line in lines)},
            {k: q.model_dump(exclude={"version"}) for k, q in quals.items()},
        )

    expected = final(story)
    assert expected[1]["aff-a"]["status"] == "reversed"
    assert ("aff-a", "2026-12", "EUR") not in expected[0]  # t3 refunded: nothing left
    assert expected[0][("aff-a", "2026-11", "EUR")]["deposit_sum"] == Decimal("55")
    rng = random.Random(23)
    for _ in range(150):
        records = story + rng.sample(story, 4)
        rng.shuffle(records)
        assert final(records) == expected


def test_a_refund_of_the_counted_deposit_after_qualifying_reverses_it() -> None:
    _, outputs, _ = run([profile(1, registered_at=at(1)),
                         canonical(deposit("p1", "t1", "25", minutes=5)),
                         canonical(deposit("p1", "t1", "25", minutes=50, status="refunded"))],
                        policy())
    q = newest(outputs)[1]["aff-a"]
    assert (q.status, q.reason, q.qualified_at, q.caused_by) == (
        "reversed", "deposit_reversed", at(5), ["ev-dep-t1-refunded"])


def test_a_second_deposit_made_before_the_chargeback_keeps_the_cpa() -> None:
    _, outputs, _ = run([profile(1, registered_at=at(1)),
                         canonical(chargeback("cb1", "t1", "25", 60)),
                         canonical(deposit("p1", "t2", "30", minutes=30)),
                         canonical(deposit("p1", "t1", "25", minutes=5))], policy())
    q = newest(outputs)[1]["aff-a"]
    assert (q.status, q.qualified_at) == ("qualified", at(5))


def test_a_rejected_kyc_does_not_meet_the_kyc_condition() -> None:
    _, outputs, _ = run([profile(1, registered_at=at(1)),
                         canonical(deposit("p1", "t1", "25", minutes=5)),
                         canonical(kyc(6, status="rejected"))], policy(Cpa(kyc_verified=True)))
    q = newest(outputs)[1]["aff-a"]
    assert (q.status, q.reason) == ("pending", "kyc_missing")


def test_a_newer_profile_with_the_same_tag_sends_nothing() -> None:
    pol = policy()
    state, _, ledger = run([profile(1, registered_at=at(1)),
                            canonical(deposit("p1", "t1", "25", minutes=5))], pol)
    later, outputs, _ = run([profile(2, registered_at=at(1))], pol, state, ledger)
    assert outputs == [] and state is not None and later is not None
    assert later.version == state.version  # not even stored: it only said the player was active
    assert decide_earnings(state, profile(2, registered_at=at(1)), pol, NOW,
                           ledger=ledger)[2] is Outcome.DUPLICATE
    assert run([profile(1, affiliate="aff-b", registered_at=at(1))], pol, later, ledger)[1] == []


def test_a_consent_withdrawal_alone_sends_the_qualification_again_not_sharing() -> None:
    pol = policy(FULL)
    head = [profile(1, registered_at=at(1)), canonical(registration("p1", None))]
    state, out, ledger = run([*head, canonical(deposit("p1", "t1", "10", minutes=5))], pol)
    before = newest(out)[1]["aff-a"]
    assert before.shares_data is True
    withdrawn = profile(2, registered_at=at(1)).model_copy(
        update={"consents": {"affiliate_data_sharing": False, "marketing_email": True}})
    state, out, _ = run([withdrawn], pol, state, ledger)
    [after] = [o.record for o in out]
    assert (after.status, after.reason, after.shares_data) == ("pending", "ftd_below_minimum", False)
    assert after.version > before.version
    # a later profile that says the same again (activity) sends nothing
    _, out, _ = run([withdrawn.model_copy(update={"version": 3})], pol, state, ledger)
    assert out == []
