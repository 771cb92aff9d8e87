"""Consent and responsible gaming stop postbacks, and the delivery log says why."""

from __future__ import annotations

from clickpath.contracts.models import Attribution, Consent, DeliveryAttempt, Postback, ResponsibleGaming
from clickpath.contracts.topics import Topic
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.players import PlayerPolicy, decide_player, replay_outputs
from tests.factories import at, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(1000)  # the processing time an agent passes in, from its clock


def consent(purpose: str, granted: bool, minutes: float, n: int = 0) -> Consent:
    return Consent(event_id=f"ev-consent-{purpose}-{minutes}-{n}", occurred_at=at(minutes),
                   brand_id="brand-a", source="crm", player_id="p1", purpose=purpose,
                   granted=granted)


def rg(kind: str, action: str, minutes: float) -> ResponsibleGaming:
    return ResponsibleGaming(event_id=f"ev-rg-{kind}-{action}-{minutes}", occurred_at=at(minutes),
                             brand_id="brand-a", source="crm", player_id="p1", kind=kind,
                             action=action)


def attribution(minutes: float = 5) -> Attribution:
    return Attribution(person_id="brand-a:p1", brand_id="brand-a", player_id="p1", click_id="c1",
                       status="attributed", affiliate_id="aff-1", campaign_id="camp-1",
                       registered_at=at(1), decided_at=at(minutes))


def run(*records, ledger=None):
    ledger = MemoryLedger() if ledger is None else ledger
    state, outputs = None, []
    for record in records:
        state, out, _ = decide_player(state, record, POLICY, NOW, ledger=ledger)
        outputs += out
    return state, outputs


def sent(outputs) -> list[str]:
    return [o.record.event for o in outputs if o.topic is Topic.POSTBACKS and isinstance(o.record, Postback)]


def suppressed(outputs) -> list[tuple[str, str]]:
    return [(o.record.event, o.record.error or "") for o in outputs
            if o.topic is Topic.DELIVERY_ATTEMPTS and isinstance(o.record, DeliveryAttempt)
            and o.record.outcome == "suppressed"]


def test_withdrawn_affiliate_data_sharing_stops_postbacks_and_says_why() -> None:
    ledger = MemoryLedger()
    state, outputs = run(registration("p1", "c1"), consent("affiliate_data_sharing", False, 2),
                         attribution(), deposit("p1", "t1", "50", minutes=6), ledger=ledger)
    assert sent(outputs) == []
    assert [(e, r.split(" consent")[0]) for e, r in suppressed(outputs)] == [
        ("registration", "affiliate_data_sharing"), ("ftd", "affiliate_data_sharing")]
    assert {o.record.attempted_at for o in outputs if o.topic is Topic.DELIVERY_ATTEMPTS} == {NOW}
    replayed = replay_outputs(state, attribution(), POLICY, NOW, ledger=ledger)
    assert sent(replayed) == []  # a replay sends none either


def test_other_purposes_do_not_stop_postbacks() -> None:
    _, outputs = run(registration("p1", "c1"), consent("marketing_email", False, 2), attribution(),
                     deposit("p1", "t1", "50", minutes=6))
    assert sent(outputs) == ["registration", "ftd"] and suppressed(outputs) == []


def test_consent_is_the_latest_change_by_event_time() -> None:
    # The withdrawal (minute 3) arrives first; a grant from minute 2 arriving later does not undo it.
    _, outputs = run(registration("p1", "c1"), consent("affiliate_data_sharing", False, 3),
                     consent("affiliate_data_sharing", True, 2), attribution())
    assert sent(outputs) == [] and [e for e, _ in suppressed(outputs)] == ["registration"]
    # A grant after the withdrawal lets the next conversion through.
    _, outputs = run(registration("p1", "c1"), consent("affiliate_data_sharing", False, 2),
                     attribution(), consent("affiliate_data_sharing", True, 7),
                     deposit("p1", "t1", "50", minutes=8))
    assert sent(outputs) == ["ftd"] and [e for e, _ in suppressed(outputs)] == ["registration"]


def test_self_exclusion_stops_postbacks_until_it_ends() -> None:
    _, outputs = run(registration("p1", "c1"), rg("self_exclusion", "start", 2), attribution(),
                     rg("self_exclusion", "end", 7), deposit("p1", "t1", "50", minutes=8))
    assert sent(outputs) == ["ftd"]
    assert suppressed(outputs)[0][0] == "registration" and "self_exclusion" in suppressed(outputs)[0][1]
    _, outputs = run(registration("p1", "c1"), rg("deposit_limit", "start", 2), attribution())
    assert sent(outputs) == ["registration"]  # a deposit limit forbids nothing here


def test_a_withdrawal_after_postbacks_were_made_revokes_the_pending_ones() -> None:
    from clickpath.contracts.models import PostbackRevocation

    _, outputs = run(registration("p1", "c1"), attribution(), consent("affiliate_data_sharing", False, 7))
    [revocation] = [o.record for o in outputs if isinstance(o.record, PostbackRevocation)]
    [postback] = [o.record for o in outputs if isinstance(o.record, Postback)]
    assert (revocation.affiliate_id, revocation.player_token) == ("aff-1", postback.player_token)
    assert revocation.revoked_at == NOW
    assert "affiliate_data_sharing" in revocation.reason
