"""Every fact of a player carries the registration time (cohorts, docs/cohorts.md): a
registration that arrives after the deposits dates every earlier fact, a replay sends it
again, and nothing else re-sends every day."""

from __future__ import annotations

from datetime import timedelta

from clickpath.contracts.models import Attribution, PlayerDayFact
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.players import PlayerPolicy, decide_player, replay_outputs
from tests.factories import at, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(10_000)
DAY = 24 * 60


def facts(outputs) -> list[PlayerDayFact]:
    return [o.record for o in outputs if isinstance(o.record, PlayerDayFact)]


def test_a_registration_after_the_deposits_dates_every_earlier_fact() -> None:
    ledger = MemoryLedger()
    # Registered the day before, through a click whose attribution is still to come: the tag
    # does not change, the registration time does.
    reg = registration("p1", "c1", minutes=-DAY)
    state, out1, _ = decide_player(None, deposit("p1", "t1", "10", minutes=2), POLICY, NOW, ledger=ledger)
    later = deposit("p1", "t2", "20", minutes=2 + 3 * DAY)
    state, out2, _ = decide_player(state, later, POLICY, NOW, ledger=ledger)
    assert {f.registered_at for f in facts(out1 + out2)} == {None}
    state, out3, _ = decide_player(state, reg, POLICY, NOW, ledger=ledger)
    sent = facts(out3)
    assert {(f.day, f.currency) for f in sent} == {
        (reg.occurred_at.date(), ""),
        (at(2).date(), "EUR"),
        (at(2 + 3 * DAY).date(), "EUR"),
    }
    assert {f.registered_at for f in sent} == {reg.occurred_at}
    assert {f.version for f in sent} == {state.version}


def test_a_money_event_after_the_registration_sends_its_day_only() -> None:
    ledger = MemoryLedger()
    state, _, _ = decide_player(None, registration("p1", None), POLICY, NOW, ledger=ledger)
    state, _, _ = decide_player(state, deposit("p1", "t1", "10", minutes=2), POLICY, NOW, ledger=ledger)
    next_day = deposit("p1", "t2", "5", minutes=2 + DAY)
    state, out, _ = decide_player(state, next_day, POLICY, NOW, ledger=ledger)
    assert [(f.day, f.registered_at) for f in facts(out)] == [(at(2 + DAY).date(), at(1))]


def test_an_attribution_that_brings_the_registration_time_dates_the_facts() -> None:
    ledger = MemoryLedger()
    state, _, _ = decide_player(None, deposit("p1", "t1", "10", minutes=2), POLICY, NOW, ledger=ledger)
    decision = Attribution(
        person_id="brand-a:p1",
        brand_id="brand-a",
        player_id="p1",
        click_id="c1",
        status="attributed",
        affiliate_id="aff-1",
        campaign_id="camp-1",
        registered_at=at(1),
        decided_at=at(5),
    )
    state, out, _ = decide_player(state, decision, POLICY, NOW, ledger=ledger)
    assert {(f.currency, f.registered_at, f.affiliate_id) for f in facts(out)} == {
        ("", at(1), "aff-1"),
        ("EUR", at(1), "aff-1"),
    }


def test_a_replay_sends_every_fact_with_the_registration_time() -> None:
    ledger = MemoryLedger()
    state, _, _ = decide_player(None, registration("p1", None), POLICY, NOW, ledger=ledger)
    dep = deposit("p1", "t1", "10", minutes=2 + 40 * DAY)
    state, _, _ = decide_player(state, dep, POLICY, NOW, ledger=ledger)
    replayed = facts(replay_outputs(state, dep, POLICY, NOW + timedelta(hours=1), ledger=ledger))
    assert len(replayed) == 2 and {f.registered_at for f in replayed} == {at(1)}
