"""The qualified_cpa postback and webhook the commissions stage makes: once per player and
affiliate, when the CPA first pays, with the ledger's accrual as the payout; suppressed (the
webhook for operators only) when consent or responsible gaming forbids; sent again, the same,
only by a replay."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from clickpath.contracts.models import DeliveryAttempt, LedgerEntry, Postback, Webhook
from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import Topic
from clickpath.domain.commissions import (
    AffiliateState,
    CommissionPolicy,
    CommissionRecord,
    decide_commissions,
    replay_commissions,
)
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.outputs import Output
from clickpath.domain.postbacks import postback_id
from tests.unit.domain.commission_factories import (
    NOW,
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
CPA = policy(book([version(cpa=cpa("100"))], {"aff-a": "p"}))
CLICK = {"click_id": "clk-1", "sub1": "s1", "sub3": "s3"}


class Stage:
    """The commission decision as the stage runs it: a state and a ledger per affiliate."""

    def __init__(self, rules: CommissionPolicy = CPA) -> None:
        self.rules = rules
        self.states: dict[str, AffiliateState | None] = defaultdict(lambda: None)
        self.ledgers: dict[str, MemoryLedger] = defaultdict(MemoryLedger)
        self.outputs: list[Output] = []

    def send(self, record: CommissionRecord, now: datetime = NOW) -> list[Output]:
        key = record.affiliate_id
        state, outputs, _ = decide_commissions(self.states[key], record, self.rules, now,
                                               ledger=self.ledgers[key])
        self.states[key] = state
        self.outputs += outputs
        return outputs

    def replay(self, record: CommissionRecord, now: datetime = NOW) -> list[Output]:
        state = self.states[record.affiliate_id]
        assert state is not None
        return replay_commissions(state, record, self.rules, now,
                                  ledger=self.ledgers[record.affiliate_id])

    def of(self, cls: type) -> list:
        return [o.record for o in self.outputs if isinstance(o.record, cls)]


def test_a_paid_cpa_makes_one_postback_and_one_webhook_with_the_ledgers_amount() -> None:
    stage = Stage(policy(book([version(cpa=cpa("100"))], {"aff-a": "p"}), payout={"aff-a": "EUR"}))
    record = qualification("p1", 1, qualified_at=at("2026-03-05"), **CLICK)
    outputs = stage.send(record)
    [entry] = stage.of(LedgerEntry)
    [postback] = stage.of(Postback)
    [webhook] = stage.of(Webhook)
    assert (entry.kind, entry.amount) == ("accrual", D("100.00"))
    assert (postback.event, postback.payout, postback.payout_currency) == (
        "qualified_cpa", entry.amount, "EUR")
    assert (postback.amount, postback.currency, postback.transaction_id) == (None, "EUR", None)
    assert (postback.click_id, postback.sub1, postback.sub2, postback.sub3) == ("clk-1", "s1", None, "s3")
    assert postback.player_token == token("p1") and postback.occurred_at == at("2026-03-05")
    assert postback.postback_id == postback_id("p1", "aff-a", "qualified_cpa")
    assert (postback.campaign_id, postback.brand_id, postback.affiliate_id) == ("camp-1", "b1", "aff-a")
    data = json.loads(webhook.data)
    assert (data["payout"], data["payout_currency"], data["period"]) == ("100.00", "EUR", "2026-03")
    assert (webhook.event, webhook.person_id, webhook.affiliate_block) == ("qualified_cpa", "p1", None)
    assert {o.topic for o in outputs} == {Topic.COMMISSION_LEDGER, Topic.POSTBACKS, Topic.WEBHOOKS,
                                          Topic.AFFILIATE_PLAYERS}
    assert all(o.key == "aff-a" for o in outputs)
    codec = build_codec(None, None)
    assert codec.decode(codec.encode(postback)) == postback
    assert codec.decode(codec.encode(webhook)) == webhook


def test_never_twice_a_record_sent_again_a_newer_version_a_requalification_or_a_clawback_undone() -> None:
    stage = Stage()
    stage.send(qualification("p1", 1, qualified_at=at("2026-03-05"), **CLICK))
    stage.send(qualification("p1", 1, qualified_at=at("2026-03-05"), **CLICK))  # re-sent
    stage.send(qualification("p1", 2, qualified_at=at("2026-03-05"), **CLICK))  # newer, same
    stage.send(qualification("p1", 3, qualified_at=at("2026-04-02"), **CLICK))  # moved period
    stage.send(flag("f1", "p1", "hold", at("2026-04-03")))
    stage.send(flag("f2", "p1", "release", at("2026-04-04")))
    assert len(stage.of(Postback)) == 1 and len(stage.of(Webhook)) == 1
    assert len(stage.of(LedgerEntry)) >= 4  # the CPA moved and was held: entries, no new postback


def test_a_replay_sends_the_same_postback_and_webhook_again() -> None:
    stage = Stage()
    record = qualification("p1", 1, qualified_at=at("2026-03-05"), **CLICK)
    sent = stage.send(record)
    again = stage.replay(record)
    assert [(o.topic, o.key, o.record) for o in again] == [(o.topic, o.key, o.record) for o in sent]


def test_a_cpa_over_the_monthly_cap_is_reported_only_once_it_pays() -> None:
    stage = Stage(policy(book([version(cpa=cpa("100", monthly_cap=1))], {"aff-a": "p"})))
    stage.send(qualification("a", 1, qualified_at=at("2026-03-03"), **CLICK))
    stage.send(qualification("b", 1, qualified_at=at("2026-03-04"), **CLICK))
    assert [p.player_token for p in stage.of(Postback)] == [token("a")]  # b: a 0 accrual
    # a moves to April: b is under March's cap now, and paid
    stage.send(qualification("a", 2, qualified_at=at("2026-04-01"), **CLICK))
    assert [p.player_token for p in stage.of(Postback)] == [token("a"), token("b")]
    assert stage.of(Postback)[1].payout == D("100.00")


def test_a_held_player_is_reported_when_the_hold_is_released() -> None:
    stage = Stage()
    stage.send(flag("f1", "p1", "hold", at("2026-03-01")))
    stage.send(qualification("p1", 1, qualified_at=at("2026-03-05"), **CLICK))
    assert stage.of(Postback) == []
    stage.send(flag("f2", "p1", "release", at("2026-03-09")))
    [postback] = stage.of(Postback)
    assert postback.payout == D("100.00")


def test_consent_withdrawn_or_self_exclusion_suppresses_the_postback_for_good() -> None:
    for block in ("affiliate_data_sharing consent withdrawn at 2026-03-01T00:00:00+00:00",
                  "self_exclusion active since 2026-03-01T00:00:00+00:00"):
        stage = Stage()
        stage.send(qualification("p1", 1, qualified_at=at("2026-03-05"), postback_block=block, **CLICK))
        assert stage.of(Postback) == []
        [suppressed] = stage.of(DeliveryAttempt)
        assert (suppressed.outcome, suppressed.error, suppressed.event) == (
            "suppressed", block, "qualified_cpa")
        assert suppressed.job_id == postback_id("p1", "aff-a", "qualified_cpa")
        [webhook] = stage.of(Webhook)
        assert webhook.affiliate_block == block  # operators' endpoints only
        # consent granted again later: the conversion happened while it was forbidden
        stage.send(qualification("p1", 2, qualified_at=at("2026-03-05"), **CLICK))
        assert stage.of(Postback) == []


def test_no_click_no_report_and_an_unpaid_reversal_none() -> None:
    stage = Stage()
    stage.send(qualification("p1", 1, qualified_at=at("2026-03-05")))  # from before v2: no click
    assert stage.of(Postback) == [] and stage.of(Webhook) == []
    stage.send(qualification("p2", 1, "reversed", qualified_at=at("2026-03-05"),
                             occurred_at=at("2026-03-06"), **CLICK))
    assert stage.of(Postback) == []


def test_a_cpa_that_paid_before_its_click_was_known_is_not_reported_late() -> None:
    """A row written before qualified_cpa postbacks existed: its next qualification (with the
    click, after an upgrade) changes nothing it pays, and reports nothing."""
    stage = Stage()
    stage.send(qualification("p1", 1, qualified_at=at("2026-03-05")))
    stage.send(qualification("p1", 2, qualified_at=at("2026-03-05"), **CLICK))
    assert stage.of(Postback) == [] and stage.of(Webhook) == []
