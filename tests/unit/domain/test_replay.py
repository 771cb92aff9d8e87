"""A record read again after a crash gets its outputs sent again, never counted again.

A crash can keep the state written with a record and lose the outputs sent with it; the
replayed record is then a duplicate to the decision, so `replay_outputs` re-creates them.
"""

from __future__ import annotations

from datetime import timedelta

from clickpath.contracts.models import Attribution, CanonicalEvent, ClickLink, PlayerDayFact, Postback
from clickpath.contracts.topics import Topic
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.clicks import decide_click, replay_click_outputs
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.players import PlayerPolicy, decide_player, replay_outputs
from tests.factories import at, click, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(1000)  # the processing time an agent passes in, from its clock


def by_topic(outputs, topic):
    return [o.record for o in outputs if o.topic is topic]


def attributed_player():
    reg, ledger = registration("p1", "c1"), MemoryLedger()
    state, _, _ = decide_player(None, reg, POLICY, NOW, ledger=ledger)
    _, _, _ = decide_click(None, click("c1"), AttributionWindow(timedelta(days=30)), at(100))
    decision = Attribution(
        person_id=reg.person_id, brand_id="brand-a", player_id="p1", click_id="c1",
        status="attributed", affiliate_id="aff-1", campaign_id="camp-1",
        registered_at=reg.occurred_at, decided_at=at(5),
    )
    state, _, _ = decide_player(state, decision, POLICY, NOW, ledger=ledger)
    dep = deposit("p1", "t1", "50")
    state, first_outputs, _ = decide_player(state, dep, POLICY, NOW, ledger=ledger)
    return state, ledger, reg, dep, first_outputs


def test_replayed_deposit_is_resent_with_the_same_ids_and_totals() -> None:
    state, ledger, _, dep, first = attributed_player()
    again = replay_outputs(state, dep, POLICY, NOW, ledger=ledger)
    [canonical] = by_topic(again, Topic.CANONICAL)
    assert isinstance(canonical, CanonicalEvent)
    assert (canonical.event_id, canonical.is_ftd) == (dep.event_id, True)
    facts = {(f.day, f.currency): f for f in by_topic(again, Topic.PLAYER_DAY_FACTS)}
    assert all(isinstance(f, PlayerDayFact) and f.version == state.version for f in facts.values())
    assert sum(f.deposits for f in facts.values()) == 1
    assert sum(f.ftds for f in facts.values()) == 1
    sent_ids = {p.postback_id for p in by_topic(first, Topic.POSTBACKS)}
    resent = by_topic(again, Topic.POSTBACKS)
    assert all(isinstance(p, Postback) for p in resent)
    assert {p.postback_id for p in resent} >= sent_ids  # same ids: receivers deduplicate


def test_replayed_registration_resends_its_click_link() -> None:
    state, ledger, reg, _, _ = attributed_player()
    [link] = by_topic(replay_outputs(state, reg, POLICY, NOW, ledger=ledger), Topic.CLICK_LINKS)
    assert isinstance(link, ClickLink) and link.click_id == "c1"


def test_a_retry_with_a_new_event_id_is_not_resent_as_a_new_event() -> None:
    state, ledger, _, dep, _ = attributed_player()
    retry = dep.model_copy(update={"event_id": "other-id"})
    assert by_topic(replay_outputs(state, retry, POLICY, NOW, ledger=ledger), Topic.CANONICAL) == []


def test_replayed_click_resends_its_canonical_event_and_decisions() -> None:
    c = click("c9")
    link = ClickLink(click_id="c9", person_id="brand-a:p9", brand_id="brand-a", player_id="p9",
                     registration_event_id="r9", registered_at=at(1))
    state, _, _ = decide_click(None, link, AttributionWindow(timedelta(days=30)), at(10))
    state, outputs, _ = decide_click(state, c, AttributionWindow(timedelta(days=30)), at(10))
    again = replay_click_outputs(state, c, NOW)
    assert [r.event_id for r in by_topic(again, Topic.CANONICAL)] == [c.event_id]
    assert by_topic(again, Topic.ATTRIBUTIONS) == by_topic(outputs, Topic.ATTRIBUTIONS)
