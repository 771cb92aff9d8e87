"""A crash at every named point of the player and click stages loses and doubles nothing, for
every event type (issue 22, item 1).

In process: the two stages run through the real runtime (streams/runtime.py) on in-memory tables
and a producer with a landed prefix (streams/memory.py). An armed point raises `Killed`; before it
does, the stage's changelog is flushed (`on_kill`), so a point after a write means that write
landed. The "other worker" then rebuilds its tables from the landed changelog only, the outputs
that were not flushed are gone, and the inputs are read again from the committed offsets. Every
figure a user would check downstream (canonical events by id, each day's last funnel fact, the
profile, the postbacks) must equal an uninterrupted run's.

The scenario is the one that lost wagers (docs/crash-safety.md, "What was wrong"): a player's KYC
and first deposit are committed; their registration has gone through the click stage and waits
on ATTRIBUTIONS; the next EVENTS batch [X, Login] is killed; on restart the ATTRIBUTIONS backlog
is read before the EVENTS backlog.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from clickpath.contracts.models import (
    Bonus,
    Chargeback,
    Consent,
    ErasureRequest,
    Kyc,
    Login,
    PlayerEvent,
    Record,
    ResponsibleGaming,
    Wager,
    Withdrawal,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.players import PlayerPolicy
from clickpath.infra.faults import STAGE_POINTS, FaultPlan, Killed, arm, on_kill
from clickpath.streams.clicks import click_stage
from clickpath.streams.players import player_stage
from tests.factories import at, click, deposit, registration
from tests.unit.streams.crash_harness import NAMES, Broker, Worker

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k" * 32)
WINDOW = AttributionWindow(lookback=timedelta(days=30))
P1 = "brand-a:p1"
# Both stages, as a `clickpath worker` runs them.
STAGES = [player_stage(POLICY, NAMES[Topic.ATTRIBUTIONS]), click_stage(WINDOW)]


def _player(cls: type[PlayerEvent], name: str, minutes: float = 3, **fields: Any) -> PlayerEvent:
    return cls(event_id=f"ev-{name}", occurred_at=at(minutes), brand_id="brand-a", source="crm",
               player_id="p1", **fields)


def _money(**fields: Any) -> dict[str, Any]:
    return {"amount": Decimal("7.50"), "currency": "EUR", **fields}


# The event under test, at the kill: (topic, key, record) put in the faulted EVENTS batch (or,
# for a click, the faulted CLICKS batch).
CASES: dict[str, tuple[Topic, str, Record]] = {
    "click": (Topic.CLICKS, "c2", click("c2", minutes=2.5)),
    "registration": (Topic.EVENTS, "brand-a:p2", registration("p2", None, minutes=3)),
    "kyc": (Topic.EVENTS, P1, _player(Kyc, "kyc2", status="verified", level="2")),
    "login": (Topic.EVENTS, P1, _player(Login, "login0", session_id="s0")),
    "deposit_approved": (Topic.EVENTS, P1, deposit("p1", "t2", "20", minutes=3)),
    "deposit_declined": (Topic.EVENTS, P1, deposit("p1", "t2", "20", minutes=3, status="declined")),
    "deposit_pending": (Topic.EVENTS, P1, deposit("p1", "t2", "20", minutes=3, status="pending")),
    "deposit_cancelled": (Topic.EVENTS, P1, deposit("p1", "t2", "20", minutes=3,
                                                    status="cancelled")),
    # the committed FTD t1 refunded: its status moves and its day's value is reversed
    "deposit_refunded": (Topic.EVENTS, P1, deposit("p1", "t1", "10", minutes=3, status="refunded",
                                                   event_id="ev-t1-refunded")),
    "withdrawal": (Topic.EVENTS, P1, _player(Withdrawal, "wd1", **_money(transaction_id="wd1"))),
    "chargeback": (Topic.EVENTS, P1, _player(
        Chargeback, "cb1", **_money(chargeback_id="cb1", transaction_id="t1"))),
    "wager": (Topic.EVENTS, P1, _player(
        Wager, "w1", wager_id="w1", stake=Decimal("4.00"), win=Decimal("1.50"),
        bonus_stake=Decimal("0"), currency="EUR", game_category="casino")),
    "bonus_granted": (Topic.EVENTS, P1, _player(Bonus, "b1", **_money(bonus_id="b1", action="granted"))),
    "bonus_converted": (Topic.EVENTS, P1, _player(
        Bonus, "b0c", **_money(bonus_id="b0", action="converted"))),
    "consent": (Topic.EVENTS, P1, _player(Consent, "con1", purpose="profiling", granted=False)),
    "responsible_gaming": (Topic.EVENTS, P1, _player(
        ResponsibleGaming, "rg1", kind="cool_off", action="start")),
    "erasure_request": (Topic.EVENTS, P1, _player(ErasureRequest, "er1", requested_by="player")),
}
POINTS = [f"{stage}.{point}" for stage in ("players", "clicks") for point in STAGE_POINTS]


def killed_at(worker: Worker, point: str) -> None:
    """Run the CLICKS batch (the registration) and the EVENTS batch [X, Login] until `point`
    kills the worker."""
    stage = point.split(".")[0]
    try:
        plan = arm(FaultPlan(point, 1, raise_instead=True)) if stage == "clicks" else None
        worker.step(Topic.CLICKS)  # the registration and its Attribution go to ATTRIBUTIONS
        plan = arm(FaultPlan(point, 1, raise_instead=True)) if stage == "players" else plan
        worker.step(Topic.EVENTS)  # [X, Login]
    except Killed:
        return
    finally:
        arm(None)
    pytest.fail(f"{point} was never passed")


def run(case: str, point: str | None, attr_first: bool = False, takeover: bool = False,
        ) -> dict[str, Any]:
    """The scenario, uninterrupted (`point` None; `attr_first`: ATTRIBUTIONS is read before
    the EVENTS batch [X, Login]) or killed at `point`, restarted and drained. `takeover`: the
    committed [Kyc, Deposit] was stored by a worker that has gone since (so the killed one
    works on a state of another lineage than its own)."""
    topic, key, x = CASES[case]
    broker = Broker()
    broker.produce(Topic.CLICKS, "c1", click("c1", minutes=0))
    broker.produce(Topic.EVENTS, P1, _player(Kyc, "kyc1", minutes=1.5, status="pending"))
    broker.produce(Topic.EVENTS, P1, deposit("p1", "t1", "10", minutes=2))
    worker = Worker(broker, STAGES)
    worker.step(Topic.CLICKS)
    worker.step(Topic.EVENTS)  # [Kyc, Deposit] committed
    if takeover:
        worker = worker.killed()  # everything landed: the next batch is another worker's

    if topic is Topic.CLICKS:
        broker.produce(topic, key, x)
    broker.produce(Topic.CLICKS, "c1", registration("p1", "c1", minutes=1))  # linked: to ATTRIBUTIONS
    if topic is Topic.EVENTS:
        broker.produce(topic, key, x)
    broker.produce(Topic.EVENTS, P1, _player(Login, "login1", minutes=4, session_id="s1"))

    if point is None:
        worker.step(Topic.CLICKS)
        if attr_first:
            worker.step(Topic.ATTRIBUTIONS)
        worker.step(Topic.EVENTS)
    else:
        killed_at(worker, point)
        worker = worker.killed()
    # The ATTRIBUTIONS backlog before the EVENTS backlog (the click stage's first, which feeds
    # it): the order in which the low-volume topic comes out after a restart.
    order = [Topic.CLICKS, Topic.CLICK_LINKS, Topic.ATTRIBUTIONS, Topic.EVENTS]
    worker.drain(order)
    return figures(broker)


def _measures(fact: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fact.items()
            if isinstance(v, int | Decimal) and not isinstance(v, bool)}


def figures(broker: Broker) -> dict[str, Any]:
    """What a user checks downstream (the sink's rules: events by id, the newest version)."""
    canonical = {e.event_id: e.model_dump() for e in broker.records(Topic.CANONICAL)}
    facts: dict[tuple[str, Any, str], tuple[int, dict[str, Any]]] = {}
    for f in broker.records(Topic.PLAYER_DAY_FACTS):
        key = (f.person_id, f.day, f.currency)
        if key not in facts or f.version >= facts[key][0]:
            facts[key] = (f.version, f.model_dump(exclude={"version"}))
    profiles: dict[str, tuple[int, dict[str, Any]]] = {}
    for p in broker.records(Topic.PLAYER_PROFILES):
        if p.person_id not in profiles or p.version >= profiles[p.person_id][0]:
            profiles[p.person_id] = (p.version, p.model_dump(exclude={"version"}))
    return {
        "canonical": canonical,
        # A day whose newest fact is all zeros counts nothing, whichever affiliate it names (a
        # replay re-tags zero facts that an uninterrupted run leaves under the old tag).
        "facts": {k: v for k, (_, v) in facts.items() if any(_measures(v).values())},
        "profiles": {k: v for k, (_, v) in profiles.items()},
        "postbacks": sorted({p.model_dump_json() for p in broker.records(Topic.POSTBACKS)}),
        "dead_letters": broker.records(Topic.DEAD_LETTER),
    }


CASE_POINTS = [(case, point) for case in CASES for point in POINTS]


@pytest.mark.parametrize("takeover", [False, True], ids=["same-worker", "after-takeover"])
@pytest.mark.parametrize(("case", "point"), CASE_POINTS)
def test_a_crash_at_each_point_loses_and_doubles_nothing(case: str, point: str, takeover: bool,
                                                         ) -> None:
    # The reference applies the records in the order the surviving state did: a crash before
    # the player's state landed (or in the click stage, before the EVENTS batch) leaves the
    # EVENTS batch to be read after ATTRIBUTIONS; from `after_state` on, the state has it first.
    # (Across topics the order is the broker's to choose, and some figures depend on it: an RG
    # block before or after the player is attributed.)
    attr_first = point.startswith("clicks.") or point == "players.after_rows"
    reference = run(case, None, attr_first)
    assert reference["dead_letters"] == []
    assert CASES[case][2].event_id in reference["canonical"]  # the event under test counted
    faulted = run(case, point, takeover=takeover)
    lost = sorted(reference["canonical"].keys() - faulted["canonical"].keys())
    doubled = sorted(faulted["canonical"].keys() - reference["canonical"].keys())
    assert (lost, doubled) == ([], []), f"canonical events lost {lost}, unexpected {doubled}"
    assert faulted["canonical"] == reference["canonical"]
    assert faulted["facts"] == reference["facts"]
    assert faulted["profiles"] == reference["profiles"]
    assert faulted["postbacks"] == reference["postbacks"]
    assert faulted["dead_letters"] == []


def test_a_store_kept_across_a_restart_is_never_ahead_of_the_changelog() -> None:
    """docs/crash-safety.md, the second fix: killed after the state was written to the local
    store but before its changelog was acknowledged, the worker restarts on its own disk and
    reads the batch again; after a failover the other worker has only the changelog. A
    natural-key duplicate of the wager (same wager_id, new event id) must then still be a
    duplicate."""
    _, key, wager = CASES["wager"]
    dup = wager.model_copy(update={"event_id": "ev-w1-again"})

    def scenario(kill: bool) -> dict[str, Any]:
        broker = Broker()
        broker.produce(Topic.EVENTS, P1, deposit("p1", "t1", "10", minutes=2))
        broker.produce(Topic.EVENTS, P1, wager)
        worker = Worker(broker, STAGES)
        if kill:
            on_kill("players.changelog", lambda: None)  # SIGKILL: nothing more is delivered
            arm(FaultPlan("players.after_state", 1, raise_instead=True))
            try:
                worker.step(Topic.EVENTS)
                pytest.fail("players.after_state was never passed")
            except Killed:
                worker = worker.restarted_on_its_own_disk()
            finally:
                arm(None)
        worker.step(Topic.EVENTS)
        worker = worker.killed()  # failover: the other worker has the changelog only
        broker.produce(Topic.EVENTS, P1, dup)
        worker.step(Topic.EVENTS)
        return figures(broker)

    reference, faulted = scenario(kill=False), scenario(kill=True)
    assert "ev-w1-again" not in reference["canonical"]
    assert sorted(faulted["canonical"]) == sorted(reference["canonical"])
    assert faulted["facts"] == reference["facts"]
    assert faulted["profiles"] == reference["profiles"]
