"""A new stateful stage is one domain package, one declaration and one registry entry: the
example "no deposit for 7 days" reminder (tests/unit/devtools/example_stage/), run beside the
pipeline's own stages in the topology harness, driven by the tick input.

Nothing of the pipeline changes for it: the stage reads the player stage's canonical events,
the harness delivers ticks as time moves, and a tick that changes nothing writes, emits and
counts nothing.
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY as METRICS

from clickpath.contracts.serde import MODELS_BY_NAME, Codec, EmbeddedRegistry, load_schema_files
from clickpath.contracts.topics import Topic
from clickpath.devtools.topology import Topology, pipeline_stages
from tests.factories import T0, click, deposit, registration
from tests.unit.devtools.example_stage.domain import QUIET, ReminderState
from tests.unit.devtools.example_stage.records import SCHEMAS, DepositReminder
from tests.unit.devtools.example_stage.registry import REGISTRY, STAGE, ExampleTopic
from tests.unit.devtools.example_stage.stage import reminder_stage
from tests.unit.devtools.test_topology import end_to_end_events

HALF_DAY = timedelta(hours=12)


def codec() -> Codec:
    """The shipped schemas and the example's own record."""
    files = load_schema_files() + load_schema_files(SCHEMAS)
    models = {**MODELS_BY_NAME, DepositReminder.avro_name: DepositReminder}
    return Codec(EmbeddedRegistry(files), files, models)


def topology() -> Topology:
    return Topology([*pipeline_stages(), reminder_stage()], registry=REGISTRY, codec=codec())


def reminders(top: Topology) -> list[DepositReminder]:
    return [r for r in top.emitted(ExampleTopic.REMINDERS) if isinstance(r, DepositReminder)]


def counted(stage: str) -> float:
    """Every outcome the stage has counted (clickpath_events_total), over all labels."""
    return sum(
        sample.value
        for metric in METRICS.collect() if metric.name == "clickpath_events"
        for sample in metric.samples
        if sample.name == "clickpath_events_total" and sample.labels.get("stage") == stage
    )


def first_tick_after(due: timedelta) -> timedelta:
    """The first half-day tick at or after `due` from the clock's start."""
    ticks = -(-due // HALF_DAY)  # ceiling division
    return ticks * HALF_DAY


def test_a_player_quiet_for_seven_days_is_reminded_once() -> None:
    top = topology()
    top.send_all([click("c1"), registration("p1", "c1", minutes=1),
                  deposit("p1", "t1", "20.00", minutes=2)])
    last_deposit = T0 + timedelta(minutes=2)
    state = top.state(STAGE, "brand-a:p1")
    assert isinstance(state, ReminderState) and state.last_deposit_at == last_deposit

    top.advance(timedelta(days=6), every=HALF_DAY)
    assert reminders(top) == []
    top.advance(timedelta(days=2), every=HALF_DAY)
    [reminder] = reminders(top)
    assert reminder.person_id == "brand-a:p1" and reminder.last_deposit_at == last_deposit
    assert reminder.due_at == last_deposit + QUIET
    assert reminder.reminded_at == T0 + first_tick_after(timedelta(minutes=2) + QUIET)
    assert top.keyed(ExampleTopic.REMINDERS)[0][0] == "brand-a:p1"


def test_a_tick_that_changes_nothing_writes_emits_and_counts_nothing() -> None:
    top = topology()
    top.send_all([registration("p1", None), deposit("p1", "t1", "20.00", minutes=2)])
    top.advance(QUIET + timedelta(days=1))  # reminded
    assert len(reminders(top)) == 1
    writes, sent, counts = top.writes(STAGE), len(top.emitted(ExampleTopic.REMINDERS)), counted(STAGE)
    player_writes = top.writes("players")

    top.advance(timedelta(days=5), every=HALF_DAY)  # ten ticks, each about one reminded player

    assert (top.writes(STAGE), len(top.emitted(ExampleTopic.REMINDERS)), counted(STAGE)) == (
        writes, sent, counts)
    assert top.writes("players") == player_writes  # no tick reaches a stage without a tick input


def test_a_newer_deposit_starts_a_new_quiet_period() -> None:
    top = topology()
    top.send_all([registration("p1", None), deposit("p1", "t1", "20.00", minutes=2)])
    top.advance(timedelta(days=5))
    top.send_all([deposit("p1", "t2", "10.00", minutes=5 * 24 * 60)])  # on day five
    top.advance(timedelta(days=3), every=HALF_DAY)  # day eight: seven days after t1, not t2
    assert reminders(top) == []
    top.advance(timedelta(days=5), every=HALF_DAY)
    [reminder] = reminders(top)
    assert reminder.last_deposit_at == T0 + timedelta(days=5)


def test_declined_deposits_and_other_events_keep_no_state_and_get_no_tick() -> None:
    top = topology()
    top.send_all([registration("p1", None), deposit("p1", "t1", "20.00", status="declined")])
    top.advance(QUIET * 2, every=HALF_DAY)
    assert top.state(STAGE, "brand-a:p1") is None
    assert top.writes(STAGE) == 0 and reminders(top) == []


def test_adding_the_stage_changes_nothing_the_other_stages_emit() -> None:
    alone, beside = Topology(), topology()
    for top in (alone, beside):
        top.send_all(end_to_end_events())
    for topic in (Topic.CANONICAL, Topic.PLAYER_DAY_FACTS, Topic.POSTBACKS, Topic.ATTRIBUTIONS):
        assert beside.emitted(topic) == alone.emitted(topic), topic
