"""A consent withdrawal reaches postbacks already made: the player stage's own decisions
(decide_player) feed the delivery engine, whose partner answers 503 so the postbacks wait for
their retry; the withdrawal the stage reads meanwhile stops them before they go again."""

from __future__ import annotations

import asyncio

import httpx

from clickpath.contracts.models import Consent, Postback, PostbackRevocation, ResponsibleGaming
from clickpath.contracts.topics import Topic
from clickpath.domain.endpoints import Endpoint
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.players import PlayerPolicy, decide_player
from tests.factories import at, deposit, registration
from tests.unit.domain.test_consent import attribution
from tests.unit.sinks.conftest import PARTNER

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"consent-test-key")


def withdrawal(minutes: float) -> Consent:
    return Consent(event_id=f"ev-withdraw-{minutes}", occurred_at=at(minutes), brand_id="brand-a",
                   source="crm", player_id="p1", purpose="affiliate_data_sharing", granted=False)


def cool_off(action: str, minutes: float) -> ResponsibleGaming:
    return ResponsibleGaming(event_id=f"ev-cool-{action}", occurred_at=at(minutes),
                             brand_id="brand-a", source="crm", player_id="p1", kind="cool_off",
                             action=action)


class PlayerStage:
    """The player stage's decisions for p1, one record at a time: what it sends to the
    postbacks topic."""

    def __init__(self) -> None:
        self.state, self.ledger = None, MemoryLedger()

    def read(self, record) -> list[Postback | PostbackRevocation]:
        self.state, outputs, _ = decide_player(self.state, record, POLICY, at(500),
                                               ledger=self.ledger)
        return [o.record for o in outputs if o.topic is Topic.POSTBACKS]  # type: ignore[misc]


def run(make_engine, story: list, then: list) -> tuple[list[str], list[tuple[str, str]]]:
    """Read `story` through the stage and its postbacks into the engine, attempt them once
    (503: each waits for its retry), read `then` the same way, and attempt whatever is due
    after the retry time: (the events the partner was sent, the delivery log's outcomes)."""
    h = make_engine([Endpoint(endpoint_id="ep", affiliate_id="aff-1", url=PARTNER + "/pb?e={event}",
                              events=["registration", "ftd", "deposit"])],
                    lambda _req, _n: httpx.Response(503), delivery_schedule_s=[1.0])
    stage, offset = PlayerStage(), 0

    def feed(records: list) -> list[Postback | PostbackRevocation]:
        nonlocal offset
        sent = [out for record in records for out in stage.read(record)]
        for out in sent:
            h.read(out, offset=offset)
            offset += 1
        return sent

    made = feed(story)
    assert [p.event for p in made if isinstance(p, Postback)], "the story makes postbacks"
    asyncio.run(h.attempt_all_due("ep"))
    assert len(h.pending("ep")) == len(made)  # each tried once, each waiting for its retry
    feed(then)
    h.clock.advance(5)
    asyncio.run(h.attempt_all_due("ep"))
    sent = [r.url.params["e"] for r in h.partner.requests]
    outcomes = [(a.event, a.outcome) for a in h.produced(Topic.DELIVERY_ATTEMPTS)]
    return sent, outcomes


def test_a_withdrawal_stops_the_conversions_waiting_for_their_retry(make_engine) -> None:
    story = [registration("p1", "c1"), attribution(), deposit("p1", "t1", "20.00", minutes=6)]
    sent, outcomes = run(make_engine, story, [withdrawal(7)])
    assert sent == ["registration", "ftd"]  # the first attempts only; no retry went out
    assert sorted(outcomes) == [("ftd", "retry"), ("ftd", "suppressed"),
                                ("registration", "retry"), ("registration", "suppressed")]


def test_a_withdrawal_stops_a_deposit_postback_when_the_conversions_were_never_sent(
    make_engine,
) -> None:
    # Registered and first deposited during a cool-off: both conversions were suppressed; the
    # cool-off ends and a second deposit's postback is made. A withdrawal must still reach it.
    story = [registration("p1", "c1"), cool_off("start", 1.5), attribution(),
             deposit("p1", "t1", "20.00", minutes=3), cool_off("end", 4),
             deposit("p1", "t2", "30.00", minutes=6)]
    sent, outcomes = run(make_engine, story, [withdrawal(7)])
    assert sent == ["deposit"]
    assert outcomes == [("deposit", "retry"), ("deposit", "suppressed")]
