"""A crash at every named point of the earnings and commissions stages (and of the player stage,
whose replay re-sends canonical events) neither loses nor doubles a cent of commission: a CPA
accrues once (issue 23, "CPA qualified ... never twice (... a crash at every crash point ...)").

All four stateful stages run in one worker, as `clickpath worker` runs them, through the real
runtime on in-memory tables (tests/unit/streams/crash_harness.py). aff-1 is on a hybrid plan:
CPA 100.00 EUR once the first deposit is at least 20.00 and KYC is verified within 30 days,
RevShare a flat 25 % of NGR. The player registers through aff-1's click and meets one condition
(KYC verified, or an FTD of 50.00); the batch in which the other, the last, arrives with a wager
and a bonus is killed at the point under test while the stage that owns the point reads it
(for the player stage's points, its replay re-sends canonical events the earnings stage must
count once). An hour later the worker restarts on its own disk, or another worker takes over
from the landed changelog, and drains; then a second deposit is charged back and the player
wagers again. The ledger must equal an uninterrupted run's, to the cent, per (affiliate,
period, currency, component), with one CPA accrual, and the final qualification must too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clickpath.contracts.models import (
    Bonus,
    Chargeback,
    Kyc,
    LedgerEntry,
    PlayerEvent,
    PlayerQualification,
    Wager,
)
from clickpath.contracts.topics import Topic
from clickpath.devtools.topology import pipeline_stages
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.commissions import CommissionPolicy
from clickpath.domain.earnings import EarningsPolicy
from clickpath.domain.fx import FxTable
from clickpath.domain.plans import PlanBook, parse_plan
from clickpath.domain.players import PlayerPolicy
from clickpath.infra.faults import STAGE_POINTS, FaultPlan, Killed, arm
from clickpath.streams.clicks import click_stage
from clickpath.streams.players import player_stage
from tests.factories import at, click, deposit, registration
from tests.unit.streams.crash_harness import NAMES, NOW, Broker, Worker

BOOK = PlanBook.build({"hybrid": parse_plan("hybrid", {
    "versions": [{"effective_from": "2020-01-01", "currency": "EUR",
                  "cpa": {"amount": "100.00", "min_first_deposit": "20.00",
                          "kyc_verified": True, "within_days": 30},
                  "revshare": {"mode": "flat", "rate": "0.25"}}],
    "assign": [{"affiliate": "aff-1"}],
})})
EARNINGS = EarningsPolicy(book=BOOK, time_zone=ZoneInfo("UTC"))
COMMISSIONS = CommissionPolicy(plans=BOOK, fx=FxTable("EUR", []), pseudonym_key=b"k" * 32)
# The four stages as the worker declares them (the harness's commission stages; the player
# stage told this broker's name of ATTRIBUTIONS).
STAGES = [
    player_stage(PlayerPolicy(recent_ids=64, pseudonym_key=b"k" * 32), NAMES[Topic.ATTRIBUTIONS]),
    click_stage(AttributionWindow(lookback=timedelta(days=30))),
    *[s for s in pipeline_stages(earnings=EARNINGS, commissions=COMMISSIONS)
      if s.name in ("earnings", "commissions")],
]
# Each round reads every topic once, upstream first.
ORDER = [Topic.CLICKS, Topic.CLICK_LINKS, Topic.ATTRIBUTIONS, Topic.EVENTS, Topic.CANONICAL,
         Topic.PLAYER_PROFILES, Topic.EARNINGS, Topic.COMMISSION_FLAGS]
# Where each stage reads the batch carrying the last CPA condition first.
READS = {"players": Topic.EVENTS, "earnings": Topic.CANONICAL, "commissions": Topic.EARNINGS}
POINTS = [f"{stage}.{point}" for stage in READS for point in STAGE_POINTS]
P1 = "brand-a:p1"
PERIOD = "2026-11"
# What a kill lands of what the worker sent before it: its tables' changelog (as flushed by the
# worker's order: changelogs, then outputs), or the outputs too, or only the outputs (the output
# producer delivered in the background, the changelog's did not).
LANDS = {"changelog": ("changelog",), "both": ("changelog", "outputs"), "outputs": ("outputs",)}
# NGR = (40 + 20) stakes - (25 + 5) wins - 10 bonus - 10 charged back = 10.00; 25 % of it.
REVSHARE = Decimal("2.50")


def _an_hour_later() -> datetime:
    """The restarted worker's processing time."""
    return NOW + timedelta(hours=1)


def _player(cls: type[PlayerEvent], event_id: str, minutes: float, **fields: Any) -> PlayerEvent:
    return cls(event_id=event_id, occurred_at=at(minutes), brand_id="brand-a", source="crm",
               player_id="p1", **fields)


def _wager(wager_id: str, minutes: float, stake: str, win: str) -> PlayerEvent:
    return _player(Wager, f"ev-{wager_id}", minutes, wager_id=wager_id, stake=Decimal(stake),
                   win=Decimal(win), bonus_stake=Decimal("0"), currency="EUR",
                   game_category="casino")


KYC = _player(Kyc, "ev-kyc1", 2, status="verified", level="2")
FTD = deposit("p1", "t1", "50.00", minutes=3)
PLAY = [
    _wager("w1", 4, "40.00", "25.00"),
    _player(Bonus, "ev-b1", 5, bonus_id="b1", action="converted", amount=Decimal("10.00"),
            currency="EUR"),
]
# The last CPA condition to arrive -> (what was committed before it, the batch it comes in).
# By event time the FTD (minute 3) is the last condition met either way: qualified_at is its.
ORDERS = {"ftd-last": ([KYC], [FTD, *PLAY]), "kyc-last": ([FTD], [KYC, *PLAY])}
LATER = [
    deposit("p1", "t2", "10.00", minutes=10),
    _wager("w2", 11, "20.00", "5.00"),
    # not the FTD: the CPA's conditions still hold without t2, so the CPA stands
    _player(Chargeback, "ev-cb1", 12, chargeback_id="cb1", transaction_id="t2",
            amount=Decimal("10.00"), currency="EUR"),
]


@dataclass
class Figures:
    """What a user checks in the ledger (entries deduplicated by entry_id, as the sink does)
    and the newest qualification the commissions stage was sent."""

    entries: list[LedgerEntry]
    resent: int  # entries sent again after a crash, identical to the first
    net: dict[tuple[str, str, str, str], Decimal]  # (affiliate, period, currency, component)
    qualification: dict[str, Any]  # without `version` (see `_figures`)


def _figures(broker: Broker, redecided: bool = False) -> Figures:
    """`redecided`: an entry whose record's state did not land was decided again, by the
    restarted worker: it has the same id and content, but that batch's `recorded_at`."""
    first: dict[str, LedgerEntry] = {}
    resent = 0
    other = {"recorded_at"} if redecided else set()
    for entry in broker.records(Topic.COMMISSION_LEDGER):
        seen = first.setdefault(entry.entry_id, entry)
        if seen is not entry:
            assert seen.model_dump(exclude=other) == entry.model_dump(exclude=other), (
                f"entry_id {entry.entry_id} written twice with other content")
            resent += 1
    net: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for e in first.values():
        net[(e.affiliate_id, e.period, e.currency, e.component)] += e.amount
    quals = [q for q in broker.records(Topic.EARNINGS) if isinstance(q, PlayerQualification)]
    newest = max(quals, key=lambda q: q.version)
    assert {(q.affiliate_id, q.person_id) for q in quals} == {("aff-1", P1)}
    assert broker.records(Topic.DEAD_LETTER) == []
    # A replay re-sends the current qualification stamped with the earnings state's current
    # version (every record it sends is cumulative, the newest wins), so after a crash the
    # number can be higher than an uninterrupted run's for the same content.
    return Figures(list(first.values()), resent, dict(net), newest.model_dump(exclude={"version"}))


def _killed_at(worker: Worker, point: str) -> None:
    """Drain until `point` kills the worker, armed just before its stage reads the batch
    carrying the last condition (so the flush points, passed by every commit, fire in it)."""
    target = READS[point.split(".")[0]]
    broker = worker.broker
    plan = None
    try:
        while True:
            busy = False
            for topic in ORDER:
                if topic is target and plan is None and broker.logs[topic.value][
                        broker.committed[topic.value]:]:
                    plan = arm(FaultPlan(point, 1, raise_instead=True))
                busy = worker.step(topic) or busy
            if not busy:
                break
    except Killed:
        return
    finally:
        arm(None)
    pytest.fail(f"{point} was never passed")


def run(order: str, point: str | None = None, takeover: bool = False, lands: str = "changelog",
        ) -> Figures:
    """The scenario in `order`, uninterrupted (`point` None) or killed at `point` during the
    batch with the last CPA condition (landing `lands`), then restarted an hour later
    (`takeover`: another worker, from the changelog)."""
    first, last = ORDERS[order]
    broker = Broker()
    worker = Worker(broker, STAGES, lands=LANDS[lands])
    broker.produce(Topic.CLICKS, "c1", click("c1", affiliate="aff-1", minutes=0))
    broker.produce(Topic.CLICKS, "c1", registration("p1", "c1", minutes=1))
    for event in first:
        broker.produce(Topic.EVENTS, P1, event)
    worker.drain(ORDER)
    for event in last:
        broker.produce(Topic.EVENTS, P1, event)
    if point is not None:
        _killed_at(worker, point)
        worker = (worker.killed(_an_hour_later) if takeover
                  else worker.restarted_on_its_own_disk(_an_hour_later))
    worker.drain(ORDER)
    for event in LATER:
        broker.produce(Topic.EVENTS, P1, event)
    worker.drain(ORDER)
    return _figures(broker, redecided="changelog" not in LANDS[lands])


_REFERENCES: dict[str, Figures] = {}


def reference(order: str) -> Figures:
    """The uninterrupted run (once per order: every case compares with it)."""
    if order not in _REFERENCES:
        _REFERENCES[order] = run(order)
    return _REFERENCES[order]


def _cpa_accruals(figures: Figures) -> list[LedgerEntry]:
    return [e for e in figures.entries
            if e.component == "cpa" and e.kind == "accrual" and e.amount != 0]


@pytest.mark.parametrize("order", ORDERS)
def test_the_uninterrupted_run_pays_the_hybrid_plan_by_hand(order: str) -> None:
    ref = reference(order)
    assert ref.resent == 0
    assert ref.net == {("aff-1", PERIOD, "EUR", "cpa"): Decimal("100.00"),
                       ("aff-1", PERIOD, "EUR", "revshare"): REVSHARE}
    assert [e.amount for e in _cpa_accruals(ref)] == [Decimal("100.00")]
    assert ref.qualification["status"] == "qualified"
    assert ref.qualification["qualified_at"] == at(3)  # the FTD's event time
    assert sorted(ref.qualification["caused_by"]) == ["ev-dep-t1", "ev-kyc1"]
    other = reference(next(o for o in ORDERS if o != order))
    assert (ref.net, ref.qualification) == (other.net, other.qualification)


@pytest.mark.parametrize("lands", LANDS)
@pytest.mark.parametrize("takeover", [False, True], ids=["same-worker", "after-takeover"])
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("order", ORDERS)
def test_a_crash_at_each_point_loses_and_doubles_no_commission(order: str, point: str,
                                                               takeover: bool, lands: str,
                                                               ) -> None:
    ref = reference(order)
    faulted = run(order, point, takeover, lands)
    assert faulted.net == ref.net
    accruals = _cpa_accruals(faulted)
    assert len(accruals) == 1, f"CPA accruals: {[(e.entry_id, e.amount) for e in accruals]}"
    assert faulted.net[("aff-1", PERIOD, "EUR", "cpa")] == Decimal("100.00")
    assert faulted.qualification == ref.qualification
