"""A reversal reaches the affiliate whatever came first: the chargeback or the attribution.

A chargeback leaves its deposit counted, so a deposit charged back before the player's
attribution is still reported (the FTD or a deposit postback) when the attribution arrives, and
its reversal must go out with it: the same postbacks, ids and `P|` rows as when the chargeback
comes after (docs/postback-presets.md). A refund takes the deposit out of the count instead, so
a deposit refunded before the attribution is never reported, and there is nothing to reverse.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from clickpath.contracts.models import Deposit
from clickpath.domain.ledger import MemoryLedger, Row
from clickpath.domain.ledger_rows import RowKind, kind_of
from clickpath.domain.players import PlayerState, replay_outputs
from clickpath.domain.postbacks import postback_id
from tests.factories import at, deposit, registration
from tests.unit.domain.test_consent import consent
from tests.unit.domain.test_deposit_postbacks import (
    NOW,
    POLICY,
    attribution,
    chargeback,
    postbacks,
    run,
)

Sent = tuple[str, str, str | None, Decimal | None, str | None, datetime]


def sent(outputs) -> list[Sent]:
    """What an affiliate's tracker sees of each postback: id, event, deposit, amount, what it
    reverses, and its time."""
    return [(p.postback_id, p.event, p.transaction_id, p.amount, p.reverses, p.occurred_at)
            for p in postbacks(outputs)]


def reports(ledger: MemoryLedger) -> dict[str, Row]:
    return {k: v for k, v in ledger.rows.items() if kind_of(k) is RowKind.DEPOSIT_REPORT}


def story(*records) -> tuple[PlayerState, list[Sent], dict[str, Row], MemoryLedger]:
    ledger = MemoryLedger()
    state, outputs = run(*records, ledger=ledger)
    return state, sent(outputs), reports(ledger), ledger


def pid(key: str) -> str:
    return postback_id("brand-a:p1", "aff-1", key)


def test_a_chargeback_before_the_attribution_reverses_the_ftd_when_the_attribution_arrives() -> None:
    ftd, cb = deposit("p1", "t1", "50", minutes=2), chargeback("t1", minutes=30, amount="50")
    _, after, after_rows, _ = story(registration("p1", "c1"), attribution(), ftd, cb)
    _, before, before_rows, _ = story(registration("p1", "c1"), ftd, cb, attribution())

    assert before == after == [
        (pid("registration"), "registration", None, None, None, at(1)),
        (pid("ftd"), "ftd", "t1", Decimal("50"), None, at(2)),
        (pid("chargeback|t1"), "chargeback", "t1", Decimal("50"), "ftd", at(30)),
    ]
    assert before_rows == after_rows == {
        "P|t1": {"ftd": "sent", "chargeback": "sent", "chargeback_at": at(30).isoformat()}}


def test_a_deposit_postback_of_a_deposit_charged_back_before_the_attribution_is_reversed() -> None:
    events = [deposit("p1", "t1", "10", minutes=2), deposit("p1", "t2", "20", minutes=3),
              chargeback("t2", minutes=40, amount="20")]
    _, after, after_rows, _ = story(registration("p1", "c1"), attribution(), *events)
    _, before, before_rows, _ = story(registration("p1", "c1"), *events, attribution())

    assert sorted(before) == sorted(after)
    assert [s[1:5] for s in before if s[1] != "registration"] == [
        ("ftd", "t1", Decimal("10"), None),
        ("deposit", "t2", Decimal("20"), None),
        ("chargeback", "t2", Decimal("20"), "deposit"),
    ]
    assert before_rows == after_rows


def test_a_chargeback_before_its_deposit_is_reversed_once_the_deposit_is_reported() -> None:
    dep, cb = deposit("p1", "t1", "50", minutes=2), chargeback("t1", minutes=30, amount="50")
    _, in_order, in_order_rows, _ = story(registration("p1", "c1"), attribution(), dep, cb)
    _, early, early_rows, _ = story(registration("p1", "c1"), attribution(), cb, dep)
    assert early == in_order and early_rows == in_order_rows


def test_only_the_first_chargeback_of_a_deposit_reverses_it() -> None:
    first, second = chargeback("t1", minutes=30), chargeback("t1", minutes=31, cb_id="cb-2")
    _, outputs, rows, _ = story(registration("p1", "c1"), deposit("p1", "t1", "50", minutes=2),
                                first, second, attribution())
    assert [(s[1], s[5]) for s in outputs if s[1] == "chargeback"] == [("chargeback", at(30))]
    assert rows["P|t1"]["chargeback_at"] == at(30).isoformat()


def test_a_replay_of_the_attribution_sends_the_same_reversal_and_changes_no_row() -> None:
    attr = attribution()
    state, _, rows, ledger = story(registration("p1", "c1"), deposit("p1", "t1", "50", minutes=2),
                                   chargeback("t1", minutes=30, amount="50"), attr)
    again = sent(replay_outputs(state, attr, POLICY, NOW, ledger=ledger))
    assert [s for s in again if s[1] == "chargeback"] == [
        (pid("chargeback|t1"), "chargeback", "t1", Decimal("50"), "ftd", at(30))]
    assert reports(ledger) == rows
    # and the attribution sent again is a duplicate: nothing new goes out
    _, more = run(attr, state=state, ledger=ledger)
    assert postbacks(more) == []


def test_an_organic_players_chargeback_reverses_nothing_and_is_only_noted() -> None:
    _, outputs, rows, _ = story(registration("p1", None), deposit("p1", "t1", "10"),
                                chargeback("t1", minutes=9))
    assert outputs == []
    assert rows == {"P|t1": {"chargeback_at": at(9).isoformat()}}


def test_a_suppressed_conversion_charged_back_before_the_attribution_reverses_nothing() -> None:
    _, outputs, rows, _ = story(
        registration("p1", "c1"), consent("affiliate_data_sharing", False, 1.2),
        deposit("p1", "t1", "50", minutes=2), chargeback("t1", minutes=30), attribution())
    assert [s[1] for s in outputs] == []
    assert rows == {"P|t1": {"chargeback_at": at(30).isoformat(), "ftd": "suppressed"}}


def test_a_refund_before_the_attribution_is_never_reported_so_nothing_is_reversed() -> None:
    # A refunded deposit stops counting (the FTD moves to the next one): reported after the
    # attribution it is reversed; refunded before, it is never reported, as
    # test_deposits_made_before_the_attribution_are_reported_when_it_arrives says.
    events = [deposit("p1", "t1", "10", minutes=2), deposit("p1", "t2", "20", minutes=3),
              deposit("p1", "t1", "10", minutes=40, status="refunded")]
    _, after, _, _ = story(registration("p1", "c1"), attribution(), *events)
    _, before, before_rows, _ = story(registration("p1", "c1"), *events, attribution())

    assert [s[1:5] for s in after if s[1] != "registration"] == [
        ("ftd", "t1", Decimal("10"), None),
        ("deposit", "t2", Decimal("20"), None),
        ("chargeback", "t1", Decimal("10"), "ftd"),
    ]
    assert [s[1:5] for s in before if s[1] != "registration"] == [
        ("ftd", "t2", Decimal("20"), None)]
    assert before_rows == {"P|t2": {"ftd": "sent"}}


# --- any arrival order -----------------------------------------------------------------------

# Deposits keep their order among themselves: which deposit the FTD postback carries is the
# first reported, and a postback sent cannot be taken back. Everything else (the registration,
# the attribution, the chargebacks and a retry of one) may come anywhere, before or after the
# deposit it is about.
DEPOSITS = [
    deposit("p1", "t1", "50", minutes=2),
    deposit("p1", "t2", "20", minutes=3),
    deposit("p1", "t3", "5", minutes=4, status="pending"),
    deposit("p1", "t3", "5", minutes=5, status="approved"),
    deposit("p1", "t4", "8", minutes=6),
]
OTHERS = [
    registration("p1", "c1"),
    attribution(minutes=7),
    chargeback("t1", minutes=30, amount="50"),
    chargeback("t3", minutes=31),
    chargeback("t3", minutes=31).model_copy(update={"event_id": "ev-cb-t3-retry"}),
]
IN_ORDER = [OTHERS[0], OTHERS[1], *DEPOSITS, *OTHERS[2:]]


def _with_deposits_in_order(order: list) -> list:
    slots = iter(DEPOSITS)
    return [next(slots) if isinstance(r, Deposit) else r for r in order]


@settings(max_examples=150, deadline=None)
@given(st.permutations([*DEPOSITS, *OTHERS]))
def test_any_arrival_order_sends_the_same_postbacks_and_writes_the_same_rows(order) -> None:
    _, expected, expected_rows, _ = story(*IN_ORDER)
    assert sorted(s[1:5] for s in expected if s[1] == "chargeback") == [
        ("chargeback", "t1", Decimal("50"), "ftd"), ("chargeback", "t3", Decimal("5"), "deposit")]

    _, got, rows, _ = story(*_with_deposits_in_order(order))
    assert sorted(got) == sorted(expected)
    assert rows == expected_rows
