"""The player decision, alone and together with the click decision, in every arrival order."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from clickpath.contracts.models import (
    CanonicalEvent,
    Click,
    ClickLink,
    Kyc,
    PlayerDayFact,
    Postback,
    Registration,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.clicks import decide_click
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.outputs import Outcome
from clickpath.domain.players import PlayerPolicy, decide_player
from clickpath.domain.pseudonym import player_token
from tests.factories import at, click, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(1000)  # the processing time an agent passes in, from its clock
LOOKBACK = AttributionWindow(timedelta(days=30))


def simulate(events, doors=True, ledgers=None):
    """Route records between the two decisions the way the topics do; return all outputs.

    `doors`: registrations that name a click go to the click stage first, as the doors produce
    them; otherwise to the player first, as an operator producing its own records might.
    `ledgers`: where each player's ledger is kept, for a caller that decides more after."""
    players, clicks, outputs = {}, {}, []
    ledgers = {} if ledgers is None else ledgers
    queue = [(_first_stage(r, doors), r) for r in events]
    while queue:
        stage, record = queue.pop(0)
        if stage == "clicks":
            clicks[record.click_id], outs, _ = decide_click(
                clicks.get(record.click_id), record, LOOKBACK, NOW)
        else:
            key = record.person_id
            linked = isinstance(record, Registration) and stage == "attributions"
            ledger = ledgers.setdefault(key, MemoryLedger())
            players[key], outs, _ = decide_player(
                players.get(key), record, POLICY, NOW, linked, ledger=ledger)
        for out in outs:
            if out.topic is Topic.CLICK_LINKS:
                queue.append(("clicks", out.record))
            elif out.topic is Topic.ATTRIBUTIONS:
                queue.append(("attributions", out.record))
            outputs.append(out)
    return players, outputs


def _first_stage(record, doors: bool) -> str:
    if isinstance(record, (Click, ClickLink)):
        return "clicks"
    if doors and isinstance(record, Registration) and record.click_id is not None:
        return "clicks"
    return "events"


def final_facts(outputs):
    latest: dict[tuple, PlayerDayFact] = {}
    for o in outputs:
        if isinstance(o.record, PlayerDayFact):
            f = o.record
            key = (f.person_id, f.day, f.currency)
            if key not in latest or f.version > latest[key].version:
                latest[key] = f
    return {k: f.model_dump(exclude={"version"}) for k, f in latest.items()}


def postbacks(outputs) -> list[Postback]:
    return [o.record for o in outputs if isinstance(o.record, Postback)]


JOURNEYS = [
    click("c1", affiliate="aff-1", campaign="camp-x", sub1="s1"),
    registration("p1", "c1", minutes=1),
    deposit("p1", "t1", "10.00", minutes=2),
    deposit("p1", "t2", "25.50", minutes=3),
    registration("p2", None, minutes=1),
    deposit("p2", "t3", "5.00", minutes=4),
    click("c3", affiliate="aff-2"),
    registration("p4", "c4", minutes=2),
    deposit("p4", "t4", "100.00", minutes=5),
    click("c4", affiliate="aff-2", campaign="camp-y", minutes=1),
]


def test_in_order_journey_gives_the_expected_facts_and_postbacks() -> None:
    players, outputs = simulate(JOURNEYS)
    facts = final_facts(outputs)
    day = at(0).date()
    p1 = facts[("brand-a:p1", day, "EUR")]
    assert (p1["affiliate_id"], p1["ftds"], p1["deposits"], p1["deposit_sum"]) == (
        "aff-1", 1, 2, Decimal("35.50"))
    assert facts[("brand-a:p1", day, "")]["registrations"] == 1
    assert facts[("brand-a:p2", day, "EUR")]["affiliate_id"] == ""
    assert facts[("brand-a:p4", day, "EUR")]["affiliate_id"] == "aff-2"
    sent = {(p.affiliate_id, p.event, p.click_id, p.amount) for p in postbacks(outputs)}
    assert sent == {
        ("aff-1", "registration", "c1", None), ("aff-1", "ftd", "c1", Decimal("10.00")),
        ("aff-1", "deposit", "c1", Decimal("25.50")),  # the second deposit: not the FTD's
        ("aff-2", "registration", "c4", None), ("aff-2", "ftd", "c4", Decimal("100.00")),
    }
    ftd = next(p for p in postbacks(outputs) if p.event == "ftd" and p.affiliate_id == "aff-1")
    assert ftd.player_token == player_token(b"k", "aff-1", "brand-a:p1")
    assert ftd.transaction_id == "t1" and ftd.sub1 == "s1"


@pytest.mark.parametrize("doors", [True, False], ids=["click-stage-first", "player-first"])
def test_every_arrival_order_with_duplicates_gives_the_same_funnel(doors: bool) -> None:
    _, reference = simulate(JOURNEYS)
    expected = final_facts(reference)
    for seed in range(40):
        rng = random.Random(seed)
        events = JOURNEYS + rng.sample(JOURNEYS, 4)  # duplicates
        rng.shuffle(events)
        _, outputs = simulate(events, doors)
        assert final_facts(outputs) == expected, f"seed {seed}"
        kinds = sorted((p.affiliate_id, p.event) for p in postbacks(outputs))
        assert kinds == [("aff-1", "deposit"), ("aff-1", "ftd"), ("aff-1", "registration"),
                         ("aff-2", "ftd"), ("aff-2", "registration")], f"seed {seed}"
        # Whichever deposit the FTD postback reported, the other one is the deposit postback.
        money = sorted(p.transaction_id or "" for p in postbacks(outputs)
                       if p.affiliate_id == "aff-1" and p.event in ("ftd", "deposit"))
        assert money == ["t1", "t2"], f"seed {seed}"


def test_decisions_read_no_clock_the_time_passed_in_is_the_one_stamped() -> None:
    _, first = simulate(JOURNEYS)
    _, again = simulate(JOURNEYS)
    assert first == again
    canonical = [o.record for o in first if isinstance(o.record, CanonicalEvent)]
    assert len(canonical) == len(JOURNEYS)
    assert {c.processed_at for c in canonical} == {NOW}


def test_ftd_is_the_earliest_deposit_by_event_time() -> None:
    players, outputs = simulate([
        registration("p1", None), deposit("p1", "late", "50", minutes=9),
        deposit("p1", "early", "20", minutes=3),
    ])
    assert players["brand-a:p1"].first_deposit.transaction_id == "early"
    assert sum(f["ftds"] for f in final_facts(outputs).values()) == 1


def test_duplicates_by_event_id_and_by_transaction_id_are_dropped() -> None:
    ledger = MemoryLedger()
    state, _, _ = decide_player(None, deposit("p1", "t1", "10"), POLICY, NOW, ledger=ledger)
    _, outs, outcome = decide_player(state, deposit("p1", "t1", "10"), POLICY, NOW, ledger=ledger)
    assert (outs, outcome) == ([], Outcome.DUPLICATE)
    same_txn_new_id = deposit("p1", "t1", "10", event_id="resent-by-crm")
    _, outs, outcome = decide_player(state, same_txn_new_id, POLICY, NOW, ledger=ledger)
    assert (outs, outcome) == ([], Outcome.DUPLICATE)
    state, _, _ = decide_player(state, registration("p1", None), POLICY, NOW, ledger=ledger)
    second_reg = registration("p1", "c9").model_copy(update={"event_id": "another-reg"})
    assert decide_player(state, second_reg, POLICY, NOW, ledger=ledger)[2] is Outcome.DUPLICATE


def test_other_events_are_deduplicated_and_published_but_change_no_funnel_fact() -> None:
    kyc = Kyc(event_id="k1", occurred_at=at(5), brand_id="brand-a", source="crm",
              player_id="p1", status="verified")
    ledger = MemoryLedger()
    state, outs, outcome = decide_player(None, kyc, POLICY, NOW, ledger=ledger)
    assert outcome is Outcome.ACCEPTED
    assert [o.topic for o in outs] == [Topic.CANONICAL]
    assert decide_player(state, kyc, POLICY, NOW, ledger=ledger)[2] is Outcome.DUPLICATE
    assert ledger.rows == {}  # no money: no row


def test_player_stays_with_the_first_affiliate_for_life() -> None:
    ledgers: dict[str, MemoryLedger] = {}
    players, outputs = simulate([click("c1", affiliate="aff-1"), registration("p1", "c1")],
                                ledgers=ledgers)
    state = players["brand-a:p1"]
    other = next(o.record for o in outputs if o.topic is Topic.ATTRIBUTIONS).model_copy(
        update={"affiliate_id": "aff-2"})
    _, outs, outcome = decide_player(state, other, POLICY, NOW, ledger=ledgers["brand-a:p1"])
    assert outcome is Outcome.DUPLICATE and outs == []


def test_a_registration_postback_is_two_agent_hops_from_the_registration() -> None:
    """Hop 1, the click stage: it links the registration, forwards it and decides at once.
    Hop 2, the player stage: registration and decision applied together give the postback."""
    clicked, _, _ = decide_click(None, click("c1", affiliate="aff-1"), LOOKBACK, NOW)
    _, hop1, _ = decide_click(clicked, registration("p1", "c1"), LOOKBACK, NOW)
    assert [(o.topic, type(o.record).__name__) for o in hop1] == [
        (Topic.ATTRIBUTIONS, "Registration"), (Topic.ATTRIBUTIONS, "Attribution"),
    ]
    player, hop2, outputs, ledger = None, [], [], MemoryLedger()
    for out in hop1:
        linked = isinstance(out.record, Registration)
        player, outputs, _ = decide_player(player, out.record, POLICY, NOW, linked, ledger=ledger)
        hop2 += outputs
    assert Topic.CLICK_LINKS not in {o.topic for o in hop2}
    assert [(p.event, p.affiliate_id) for p in postbacks(hop2)] == [("registration", "aff-1")]
