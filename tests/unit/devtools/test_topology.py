"""The pipeline end to end in memory (clickpath.devtools.topology): the stages' real declarations,
runtime and decisions, wired by the topic registry, with no broker.

The scenarios are the broker suite's (tests/integration/test_end_to_end.py,
tests/integration/test_player_value.py) and so are the figures asserted: what the report shows
(folded here from the topics the ClickHouse sink reads, tests/unit/devtools/figures.py), the
postbacks an affiliate receives and the dead letters. The broker tests keep proving the wiring.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from clickpath.contracts.models import (
    Attribution,
    CanonicalEvent,
    DeadLetter,
    Kyc,
    PlayerProfile,
    Wager,
)
from clickpath.contracts.topics import SPECS, Topic, TopologyError
from clickpath.devtools.topology import POLICY, Topology, topic_names
from clickpath.domain.outputs import Outcome, Output
from clickpath.domain.players import PlayerState
from clickpath.domain.pseudonym import player_token
from clickpath.streams.runtime import Stage
from tests.factories import (
    END_TO_END_FUNNEL,
    REFUSED_CURRENCY,
    at,
    click,
    deposit,
    deposit_in_refused_currency,
    end_to_end_events,
    player_value_story,
    registration,
)
from tests.unit.devtools.figures import funnel, measures, ngr, postbacks

PLAYER_FIELDS = {"brand_id": "brand-a", "player_id": "p1", "source": "psp"}

EXPECTED_FUNNEL = END_TO_END_FUNNEL  # what tests/integration/test_end_to_end.py expects


def conversion(player: str, click_id: str, event: str, amount: str | None = None,
               tx: str | None = None, sub1: str | None = None) -> tuple[Any, ...]:
    """What an affiliate's postback URL carries (test_end_to_end's `url`)."""
    token = player_token(POLICY.pseudonym_key, "aff-1", f"brand-a:{player}")
    return ("aff-1", click_id, event, Decimal(amount) if amount else None,
            "EUR" if amount else None, token, tx, sub1)


def conversions(top: Topology, events: tuple[str, ...] = ("registration", "ftd")) -> list[Any]:
    return sorted(
        ((p.affiliate_id, p.click_id, p.event, p.amount, p.currency, p.player_token,
          p.transaction_id, p.sub1) for p in postbacks(top) if p.event in events),
        key=repr,
    )


def test_players_out_of_order_with_duplicates_give_the_broker_suites_figures() -> None:
    top = Topology()
    top.send_all(end_to_end_events())
    top.send_raw(Topic.EVENTS, b"brand-a:px", b"\x00garbage")
    top.send_raw(Topic.EVENTS, b"brand-a:p9", top.codec.encode(deposit_in_refused_currency()))

    assert funnel(top) == EXPECTED_FUNNEL
    # The postbacks the broker test's receiver gets (it subscribes to registrations and FTDs);
    # p1's second deposit is a `deposit` postback, sent only to endpoints that take those.
    assert conversions(top) == sorted([
        conversion("p1", "c1", "registration", sub1="s 1"),
        conversion("p1", "c1", "ftd", "10.00", "t1", sub1="s 1"),
        conversion("p2", "c2", "registration"),
        conversion("p2", "c2", "ftd", "99.99", "t3"),
    ], key=repr)
    assert [(p.event, p.transaction_id) for p in postbacks(top) if p.event == "deposit"] == [
        ("deposit", "t2")]

    dead = {d.original_key: d for d in top.emitted(Topic.DEAD_LETTER)}
    assert all(isinstance(d, DeadLetter) for d in dead.values()) and len(dead) == 2
    garbage = dead[b"brand-a:px"]
    assert garbage.original_value == b"\x00garbage" and garbage.stage == "players"
    assert garbage.topic == topic_names()[Topic.EVENTS] and garbage.offset >= 0
    assert garbage.reason == f"unknown schema id {int.from_bytes(b'garb')}"
    assert f"unknown currency '{REFUSED_CURRENCY}'" in dead[b"brand-a:p9"].reason

    # Everything again: one postback per conversion, the funnel unchanged.
    sent = len(postbacks(top))
    top.send_all(end_to_end_events())
    assert len(postbacks(top)) == sent and funnel(top) == EXPECTED_FUNNEL


def test_a_journey_from_click_to_wager_reaches_every_output() -> None:
    """Click, registration, attribution, KYC, FTD, wager: the canonical events, the funnel
    facts, the profile and the FTD postback, each from the stage that makes it."""
    top = Topology()
    minute = timedelta(minutes=1)
    top.send_all([click("c1", affiliate="aff-1", campaign="camp-a", sub1="s1")])
    top.advance(minute)
    top.send_all([registration("p1", "c1", minutes=1)])
    [decision] = [a for a in top.emitted(Topic.ATTRIBUTIONS) if isinstance(a, Attribution)]
    assert (decision.status, decision.affiliate_id, decision.decided_at) == (
        "attributed", "aff-1", top.clock.now())
    top.advance(minute)
    top.send_all([Kyc(event_id="k1", occurred_at=at(2), status="verified", **PLAYER_FIELDS)])
    top.advance(minute)
    deposit_received = top.clock.now()
    top.send_all([deposit("p1", "t1", "50.00", minutes=3)])
    top.advance(minute)
    top.send_all([Wager(event_id="w1", occurred_at=at(4), wager_id="w1", stake=Decimal("20"),
                        win=Decimal("5"), bonus_stake=Decimal("0"), currency="EUR",
                        game_category="casino", **PLAYER_FIELDS)])

    canonical = [e for e in top.emitted(Topic.CANONICAL) if isinstance(e, CanonicalEvent)]
    assert [(e.event_type, e.person_id, e.is_ftd) for e in canonical] == [
        ("click", "", False), ("registration", "brand-a:p1", False),
        ("kyc", "brand-a:p1", False), ("deposit", "brand-a:p1", True),
        ("wager", "brand-a:p1", False),
    ]
    eur = measures(top)[("aff-1", "camp-a", "EUR")]
    assert (eur["ftds"], eur["ftd_sum"], eur["deposits"], eur["stakes"], eur["wins"]) == (
        1, Decimal("50.00"), 1, Decimal("20"), Decimal("5"))
    assert ngr(eur) == Decimal("15")
    assert measures(top)[("aff-1", "camp-a", "")]["registrations"] == 1

    assert conversions(top) == sorted([
        conversion("p1", "c1", "registration", sub1="s1"),
        conversion("p1", "c1", "ftd", "50.00", "t1", sub1="s1"),
    ], key=repr)
    [ftd] = [p for p in postbacks(top) if p.event == "ftd"]
    assert ftd.received_at == deposit_received  # the delivered latency counts from the door

    profile = top.emitted(Topic.PLAYER_PROFILES)[-1]
    assert isinstance(profile, PlayerProfile)
    assert (profile.kyc_status, profile.tag_status, profile.affiliate_id, profile.deposits) == (
        "verified", "attributed", "aff-1", 1)
    state = top.state("players", "brand-a:p1")
    assert isinstance(state, PlayerState) and state.tag is not None
    assert state.tag.status == "attributed" and state.first_deposit is not None


# tests/integration/test_player_value.py's story, worked by hand there.
VALUE_MEASURES = (
    "ftds", "ftd_sum", "deposits", "deposit_sum", "declined_deposits", "chargebacks",
    "chargeback_sum", "stakes", "wins", "bonus_stakes", "bonus_cost", "withdrawals",
    "withdrawal_sum",
)
EXPECTED_VALUE = dict(zip(VALUE_MEASURES, (
    1, "50.00", 1, "50.00", 1, 1, "50.00", "100.00", "60.00", "10.00", "15.00", 1, "30.00",
), strict=True))


value_story = player_value_story


@pytest.mark.parametrize("seed", [7, 11, 23])
def test_the_players_value_is_exact_whatever_the_order_and_the_retries(seed: int) -> None:
    events = value_story()
    retries = [deposit("p1", "t1", "50.00", minutes=3, status="approved", event_id="crm-retry"),
               events[-2].model_copy(update={"event_id": "cb1-again"})]
    sent = events + retries + events[2:6]  # statuses again, and a chargeback resent
    random.Random(seed).shuffle(sent)
    top = Topology(batch_max=4)  # several micro-batches, a key's events split between them
    top.send_all(sent)

    row = measures(top)[("aff-1", "camp-a", "EUR")]
    figures = {m: row[m] if isinstance(row[m], int) else f"{row[m]:.2f}" for m in VALUE_MEASURES}
    assert figures == EXPECTED_VALUE
    assert ngr(row) == Decimal("-25.00")  # GGR 40 - 15 bonus cost - 50 chargeback


def test_a_chargeback_before_the_attribution_still_reverses_the_ftd_postback() -> None:
    """The story as one import: the registration goes by the click stage (two hops), the
    chargeback straight to the player (one), so the player has the chargeback before its
    attribution. The FTD postback goes out when the attribution comes; its reversal must too
    (docs/postback-presets.md: a deposit behind a sent conversion that is charged back)."""
    one_by_one, at_once = Topology(), Topology()
    for event in value_story():
        one_by_one.send_all([event])
    at_once.send_all(value_story())
    assert [(p.event, p.reverses) for p in postbacks(one_by_one)] == [
        ("registration", None), ("ftd", None), ("chargeback", "ftd")]
    assert [(p.event, p.reverses) for p in postbacks(at_once)] == [
        ("registration", None), ("ftd", None), ("chargeback", "ftd")]


# --- what the harness refuses --------------------------------------------------------------


def _rogue_stage(writes_to: Topic, key: str | None = None) -> Stage[PlayerState]:
    """A stage named like the player stage that sends on what it reads, to `writes_to`."""
    def decide(state: Any, item: Any, now: Any, ledger: Any) -> Any:
        record = item.record
        new = PlayerState(brand_id=record.brand_id, player_id=record.player_id or "x", version=1)
        return new, [Output(writes_to, key or record.person_id, record)], Outcome.ACCEPTED

    return Stage(name="players", inputs=(Topic.CANONICAL,), key_of=lambda e: e.person_id,
                 accepts=(CanonicalEvent,), state_model=PlayerState, state_format=1,
                 decide=decide, replay=lambda *args, **kwargs: [])


def test_a_stage_may_read_only_topics_that_name_it_as_a_consumer() -> None:
    with pytest.raises(TopologyError, match="reads canonical.events"):
        Topology([_rogue_stage(Topic.CANONICAL)])


READS_CANONICAL = {**SPECS, Topic.CANONICAL: replace(SPECS[Topic.CANONICAL], consumers=("players",))}
KYC_EVENT = CanonicalEvent(event_id="e1", event_type="kyc", occurred_at=at(0), processed_at=at(0),
                           brand_id="brand-a", source="crm", person_id="brand-a:p1",
                           player_id="p1", is_ftd=False, payload="{}")


def test_a_stage_may_write_only_to_topics_that_name_it_as_a_producer() -> None:
    registry, event = READS_CANONICAL, KYC_EVENT
    top = Topology([_rogue_stage(Topic.CLICK_LINKS)], registry=registry)  # players may write it
    with pytest.raises(TopologyError, match="does not carry CanonicalEvent"):
        top.send(Topic.CANONICAL, event)
    other = Topology([_rogue_stage(Topic.ATTRIBUTIONS)], registry=registry)
    with pytest.raises(TopologyError, match="may not write to stream.attributions"):
        other.send(Topic.CANONICAL, event)


def test_a_stage_must_write_a_record_under_its_key_on_the_topic() -> None:
    top = Topology([_rogue_stage(Topic.CANONICAL, key="brand-a:someone-else")],
                   registry=READS_CANONICAL)
    with pytest.raises(TopologyError, match="under key b'brand-a:someone-else'"):
        top.send(Topic.CANONICAL, KYC_EVENT)


def test_a_micro_batchs_canonical_events_are_one_batch_record_read_as_its_events() -> None:
    """canonical.events is batched (contracts/topics.py): the player stage writes a
    micro-batch's events there as one record, and readers see every event, in order."""
    top = Topology()
    name = topic_names()[Topic.CANONICAL]
    top.send_all([registration("p1", None), deposit("p1", "t1", "50.00", minutes=3),
                  deposit("p1", "t2", "20.00", minutes=4)])

    assert [e.event_id for e in top.emitted(Topic.CANONICAL)] == [  # type: ignore[attr-defined]
        "ev-reg-p1", "ev-dep-t1", "ev-dep-t2"]
    assert top.end_offsets()[name] == 1  # three events, one record
    assert [key for key, _ in top.keyed(Topic.CANONICAL)] == ["brand-a:p1"] * 3
