"""Deposit postbacks and reversals from the player stage (issue 16, docs/postback-presets.md).

Every approved deposit other than the FTD's is a `deposit` postback, once; a chargeback or a
refund of a deposit behind a sent conversion is a `chargeback` postback that names it, once;
consent and RG stop them as they stop the others; duplicates and replays emit nothing new.
"""

from __future__ import annotations

from decimal import Decimal

from clickpath.contracts.models import Attribution, Chargeback, DeliveryAttempt, Postback
from clickpath.contracts.topics import Topic
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.players import PlayerPolicy, decide_player, replay_outputs
from clickpath.domain.postbacks import postback_id
from tests.factories import at, deposit, registration
from tests.unit.domain.test_consent import consent, rg

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(1000)


def attribution(minutes: float = 1.5) -> Attribution:
    return Attribution(
        person_id="brand-a:p1",
        brand_id="brand-a",
        player_id="p1",
        click_id="c1",
        status="attributed",
        affiliate_id="aff-1",
        campaign_id="camp-1",
        sub1="s1",
        registered_at=at(1),
        decided_at=at(minutes),
    )


def chargeback(txn: str, minutes: float, cb_id: str | None = None, amount: str = "5") -> Chargeback:
    return Chargeback(
        event_id=f"ev-cb-{cb_id or txn}",
        occurred_at=at(minutes),
        brand_id="brand-a",
        source="psp",
        player_id="p1",
        chargeback_id=cb_id or f"cb-{txn}",
        transaction_id=txn,
        amount=Decimal(amount),
        currency="EUR",
    )


def run(*records, state=None, ledger=None):
    """Decide `records` in turn (after `state` and its `ledger`, to go on from a run)."""
    ledger = MemoryLedger() if ledger is None else ledger
    outputs = []
    for record in records:
        state, out, _ = decide_player(state, record, POLICY, NOW, ledger=ledger)
        outputs += out
    return state, outputs


def postbacks(outputs) -> list[Postback]:
    return [o.record for o in outputs if o.topic is Topic.POSTBACKS and isinstance(o.record, Postback)]


def money(outputs) -> list[tuple[str, str | None, Decimal | None, str | None]]:
    return [
        (p.event, p.transaction_id, p.amount, p.reverses)
        for p in postbacks(outputs)
        if p.event in ("ftd", "deposit", "chargeback")
    ]


def suppressed(outputs) -> list[str]:
    return [
        o.record.event
        for o in outputs
        if isinstance(o.record, DeliveryAttempt) and o.record.outcome == "suppressed"
    ]


def test_every_deposit_but_the_ftds_is_a_deposit_postback_with_its_own_id() -> None:
    _, outputs = run(
        registration("p1", "c1"),
        attribution(),
        deposit("p1", "t1", "10", minutes=2),
        deposit("p1", "t2", "20", minutes=3),
        deposit("p1", "t3", "30", minutes=4),
    )
    assert money(outputs) == [
        ("ftd", "t1", Decimal("10"), None),
        ("deposit", "t2", Decimal("20"), None),
        ("deposit", "t3", Decimal("30"), None),
    ]
    deposits = [p for p in postbacks(outputs) if p.event == "deposit"]
    assert [p.postback_id for p in deposits] == [
        postback_id("brand-a:p1", "aff-1", "deposit|t2"),
        postback_id("brand-a:p1", "aff-1", "deposit|t3"),
    ]
    assert deposits[0].click_id == "c1" and deposits[0].sub1 == "s1" and deposits[0].currency == "EUR"
    assert deposits[0].occurred_at == at(3)


def test_a_pending_deposit_is_reported_when_approved_a_declined_one_never() -> None:
    ledger = MemoryLedger()
    state, outputs = run(
        registration("p1", "c1"),
        attribution(),
        deposit("p1", "t1", "10", minutes=2),
        deposit("p1", "t2", "20", minutes=3, status="pending"),
        deposit("p1", "t3", "30", minutes=3, status="declined"),
        ledger=ledger,
    )
    assert [e for e, *_ in money(outputs)] == ["ftd"]
    _, later = run(deposit("p1", "t2", "20", minutes=5, status="approved"), state=state,
                   ledger=ledger)
    assert money(later) == [("deposit", "t2", Decimal("20"), None)]


def test_deposits_made_before_the_attribution_are_reported_when_it_arrives() -> None:
    _, outputs = run(
        registration("p1", "c1"),
        deposit("p1", "t1", "10", minutes=2),
        deposit("p1", "t2", "20", minutes=3),
        deposit("p1", "t3", "5", minutes=4, status="refunded"),
        attribution(minutes=9),
    )
    assert sorted(money(outputs)) == [
        ("deposit", "t2", Decimal("20"), None),
        ("ftd", "t1", Decimal("10"), None),
    ]


def test_a_chargeback_of_the_ftd_reverses_it_once_with_the_deposits_amount() -> None:
    ledger = MemoryLedger()
    state, outputs = run(
        registration("p1", "c1"),
        attribution(),
        deposit("p1", "t1", "50", minutes=2),
        chargeback("t1", minutes=30, amount="50"),
        ledger=ledger,
    )
    reversal = postbacks(outputs)[-1]
    assert (
        reversal.event,
        reversal.transaction_id,
        reversal.amount,
        reversal.currency,
        reversal.reverses,
    ) == ("chargeback", "t1", Decimal("50"), "EUR", "ftd")
    assert reversal.occurred_at == at(30)
    assert reversal.postback_id == postback_id("brand-a:p1", "aff-1", "chargeback|t1")
    # A second chargeback of the same deposit (another id) and a refund reverse nothing more.
    _, more = run(
        chargeback("t1", minutes=31, cb_id="cb-2"),
        deposit("p1", "t1", "50", minutes=32, status="refunded"),
        state=state,
        ledger=ledger,
    )
    assert money(more) == []


def test_a_refund_of_a_reported_deposit_reverses_it() -> None:
    _, outputs = run(
        registration("p1", "c1"),
        attribution(),
        deposit("p1", "t1", "10", minutes=2),
        deposit("p1", "t2", "20", minutes=3),
        deposit("p1", "t2", "20", minutes=40, status="refunded"),
    )
    assert money(outputs)[-1] == ("chargeback", "t2", Decimal("20"), "deposit")
    assert postbacks(outputs)[-1].occurred_at == at(40)


def test_nothing_is_reversed_that_was_not_reported() -> None:
    # An unattributed player's chargeback, a chargeback of an unknown deposit, a refund of a
    # deposit that was still pending: no conversion was sent, so there is nothing to reverse.
    _, organic = run(registration("p1", None), deposit("p1", "t1", "10"), chargeback("t1", 9))
    assert postbacks(organic) == []
    _, outputs = run(
        registration("p1", "c1"),
        attribution(),
        deposit("p1", "t1", "10", minutes=2),
        chargeback("nope", minutes=5),
        deposit("p1", "t2", "20", minutes=3, status="pending"),
        deposit("p1", "t2", "20", minutes=6, status="refunded"),
    )
    assert money(outputs) == [("ftd", "t1", Decimal("10"), None)]


def test_consent_withdrawn_suppresses_deposit_and_reversal_postbacks_and_says_so() -> None:
    ledger = MemoryLedger()
    state, outputs = run(
        registration("p1", "c1"),
        attribution(),
        deposit("p1", "t1", "10", minutes=2),
        consent("affiliate_data_sharing", False, 3),
        deposit("p1", "t2", "20", minutes=4),
        chargeback("t1", minutes=5),
        ledger=ledger,
    )
    assert money(outputs) == [("ftd", "t1", Decimal("10"), None)]
    assert suppressed(outputs) == ["deposit", "chargeback"]
    jobs = [o.record.job_id for o in outputs if isinstance(o.record, DeliveryAttempt)]
    assert jobs == [
        postback_id("brand-a:p1", "aff-1", "deposit|t2"),
        postback_id("brand-a:p1", "aff-1", "chargeback|t1"),
    ]
    # Consent granted again: what was suppressed stays suppressed (decided once), later ones go.
    _, later = run(
        consent("affiliate_data_sharing", True, 6, n=1),
        deposit("p1", "t3", "30", minutes=7),
        chargeback("t2", minutes=8),
        state=state,
        ledger=ledger,
    )
    assert money(later) == [("deposit", "t3", Decimal("30"), None)]  # t2 was never reported


def test_self_exclusion_suppresses_them_too() -> None:
    _, outputs = run(
        registration("p1", "c1"),
        attribution(),
        deposit("p1", "t1", "10", minutes=2),
        rg("self_exclusion", "start", 3),
        deposit("p1", "t2", "20", minutes=4),
    )
    assert [e for e, *_ in money(outputs)] == ["ftd"]
    assert suppressed(outputs) == ["deposit"]


def test_duplicates_emit_nothing_and_replays_resend_the_same_postbacks() -> None:
    dep2, cb = deposit("p1", "t2", "20", minutes=3), chargeback("t2", minutes=9)
    ledger = MemoryLedger()
    state, outputs = run(
        registration("p1", "c1"), attribution(), deposit("p1", "t1", "10", minutes=2), dep2, cb,
        ledger=ledger,
    )
    first = {p.postback_id: p for p in postbacks(outputs)}
    # The same records again (and the same deposit under a new event id): duplicates.
    again = deposit("p1", "t2", "20", minutes=3, event_id="ev-other-id")
    _, dup = run(dep2, cb, again, state=state, ledger=ledger)
    assert postbacks(dup) == []
    # A replay after a crash sends what was sent for the record's deposit (its postback and its
    # reversal) and the player's registration and FTD again, with the same ids and content.
    for record in (dep2, cb, attribution()):
        replayed = postbacks(replay_outputs(state, record, POLICY, NOW, ledger=ledger))
        assert sorted(p.event for p in replayed) == ["chargeback", "deposit", "ftd", "registration"]
        assert all(first[p.postback_id] == p for p in replayed)
    ftd = deposit("p1", "t1", "10", minutes=2)
    ftd_replay = postbacks(replay_outputs(state, ftd, POLICY, NOW, ledger=ledger))
    assert sorted(p.event for p in ftd_replay) == ["ftd", "registration"]
