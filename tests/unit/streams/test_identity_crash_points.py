"""A crash at every named point of the two identity stages changes no person, link, signal or
touchpoint: the graph after a kill and a restart (on the worker's own disk, or another worker
from the landed changelog) is the uninterrupted run's.

Both stages run in one worker through the real runtime on in-memory tables
(tests/unit/streams/crash_harness.py). The scenario: a click on a tablet, a registration at
brand-a naming it, the same e-mail hash registering at brand-b (one person, merged), a second
brand-a account on the tablet (a multi-account signal, never merged). The kill lands in the
batch the stage under test reads while brand-b's registration is on its way.
"""

from __future__ import annotations

from typing import Any

import pytest

from clickpath.contracts.models import CanonicalEvent, Registration
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.outputs import canonical_of
from clickpath.infra.faults import STAGE_POINTS, FaultPlan, Killed, arm
from clickpath.streams.identifiers import identifier_stage
from clickpath.streams.identity import identity_stage
from tests.factories import T0, at, click
from tests.unit.streams.crash_harness import NOW, Broker, Worker

POLICY = IdentityPolicy()
STAGES = [identity_stage(lambda: POLICY), identifier_stage(lambda: POLICY)]
ORDER = [Topic.CANONICAL, Topic.IDENTITY_SIGHTINGS, Topic.IDENTITY_INBOX]
POINTS = [f"{stage}.{point}" for stage in ("identity", "identifiers") for point in STAGE_POINTS]
LANDS = {"changelog": ("changelog",), "both": ("changelog", "outputs"), "outputs": ("outputs",)}
MAIL = "e" * 64


def _reg(brand: str, player: str, minutes: float, **fields: Any) -> CanonicalEvent:
    event = Registration(event_id=f"ev-reg-{brand}-{player}", occurred_at=at(minutes),
                         brand_id=brand, source="crm", player_id=player, **fields)
    return canonical_of(event, f"{brand}:{player}", T0)


FIRST = [
    canonical_of(click("c-tab", affiliate="aff-1", minutes=0, device_id="dev-tab"), "", T0),
    _reg("brand-a", "p1", 5, click_id="c-tab", email_hash=MAIL, device_id="dev-tab"),
]
THEN = [_reg("brand-b", "q1", 20, email_hash=MAIL), _reg("brand-a", "p2", 30, device_id="dev-tab")]


def _newest(records: list[Any], key: str) -> dict[str, dict[str, Any]]:
    """Of each key the highest version, without the processing times (a restarted worker
    decides with its own clock)."""
    best: dict[str, Any] = {}
    for r in records:
        k = getattr(r, key) if key != "pair" else (r.account, r.other)
        if k not in best or r.version > best[k].version:
            best[k] = r
    skip = {"decided_at", "changed_at", "raised_at", "version", "change_id"}
    return {str(k): v.model_dump(exclude=skip) for k, v in best.items()}


def figures(broker: Broker) -> dict[str, Any]:
    assert broker.records(Topic.DEAD_LETTER) == []
    return {
        "persons": _newest(broker.records(Topic.IDENTITY_PERSONS), "account"),
        "links": _newest(broker.records(Topic.IDENTITY_LINKS), "pair"),
        "signals": _newest(broker.records(Topic.IDENTITY_SIGNALS), "signal_id"),
        "touchpoints": sorted((t.account, t.click_id, t.link)
                              for t in broker.records(Topic.IDENTITY_TOUCHPOINTS)),
    }


def _killed_at(worker: Worker, point: str) -> None:
    """Drain until `point` kills the worker (armed once THEN is on canonical.events)."""
    plan = arm(FaultPlan(point, 1, raise_instead=True))
    try:
        worker.drain(ORDER)
    except Killed:
        return
    finally:
        arm(None)
    pytest.fail(f"{point} was never passed ({plan.seen} passes)")


def run(point: str | None = None, takeover: bool = False, lands: str = "changelog") -> dict[str, Any]:
    broker = Broker()
    worker = Worker(broker, STAGES, lands=LANDS[lands])
    for event in FIRST:
        broker.produce(Topic.CANONICAL, event.person_id or event.click_id or "", event)
    worker.drain(ORDER)
    for event in THEN:
        broker.produce(Topic.CANONICAL, event.person_id, event)
    if point is not None:
        _killed_at(worker, point)
        worker = worker.killed(lambda: NOW) if takeover else worker.restarted_on_its_own_disk()
    worker.drain(ORDER)
    return figures(broker)


REFERENCE = run()


def test_the_uninterrupted_run_is_one_person_one_signal_one_path() -> None:
    persons = {a: p["person_id"] for a, p in REFERENCE["persons"].items()}
    assert persons.keys() == {"brand-a:p1", "brand-a:p2", "brand-b:q1"}  # every account's
    assert persons["brand-b:q1"] == persons["brand-a:p1"] != persons["brand-a:p2"]
    assert [REFERENCE["persons"][a]["kind"] for a in sorted(persons)] == ["new", "new", "merge"]
    assert [s["accounts"] for s in REFERENCE["signals"].values()] == [["brand-a:p1", "brand-a:p2"]]
    assert ("brand-a:p1", "c-tab", "named_click") in REFERENCE["touchpoints"]


@pytest.mark.parametrize("lands", LANDS)
@pytest.mark.parametrize("takeover", [False, True], ids=["same-worker", "after-takeover"])
@pytest.mark.parametrize("point", POINTS)
def test_a_crash_at_each_point_changes_no_person_link_signal_or_touchpoint(
        point: str, takeover: bool, lands: str) -> None:
    assert run(point, takeover, lands) == REFERENCE
