"""The stage runtime (streams/runtime.py) against the in-memory table and producer: what a worker
does with a micro-batch, without Faust or a broker."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel

from clickpath.contracts.batches import unpack
from clickpath.contracts.models import (
    CanonicalEvent,
    DeadLetter,
    Deposit,
    EventBatch,
    PlayerProfile,
    Record,
)
from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import Topic
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Outcome, Output
from clickpath.domain.players import PlayerPolicy
from clickpath.domain.runs import Positioned
from clickpath.infra.partitioning import partition_for
from clickpath.streams.clicks import click_stage
from clickpath.streams.memory import MemoryEvent, MemoryMessage, MemoryProducer, MemoryTable
from clickpath.streams.players import player_stage
from clickpath.streams.runtime import FORKS_KEPT, Stage, StageRuntime
from tests.factories import T0, click, deposit, registration

CODEC = build_codec(None, None)
NAMES = {t: t.value for t in Topic}
POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k" * 32)
PLAYER = "brand-a:p1"


class Feed:
    """Messages on their topics, with offsets as a broker gives them."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def msg(self, topic: Topic, key: str, value: bytes | None, at: datetime | None = None,
            ) -> MemoryEvent:
        offset = self._next.get(topic.value, 0)
        self._next[topic.value] = offset + 1
        stamp = at.timestamp() if at else None
        return MemoryEvent(MemoryMessage(topic.value, 0, offset, key.encode(), value, stamp))

    def record(self, topic: Topic, key: str, record: Record) -> MemoryEvent:
        return self.msg(topic, key, CODEC.encode(record))


def players() -> tuple[StageRuntime[Any], MemoryTable, MemoryProducer]:
    table, producer = MemoryTable(), MemoryProducer()
    stage = player_stage(POLICY, NAMES[Topic.ATTRIBUTIONS])
    return StageRuntime(stage, CODEC, NAMES, table, table, producer, partitions=4), table, producer


def decoded(producer: MemoryProducer, topic: Topic) -> list[Any]:
    """The events sent to `topic` (batch records unpacked), as its readers see them."""
    return producer.events(CODEC, topic.value)


def count(stage: str, outcome: str) -> float:
    labels = {"stage": stage, "outcome": outcome}
    return REGISTRY.get_sample_value("clickpath_events_total", labels) or 0.0


def test_a_bad_record_is_a_dead_letter_and_the_rest_of_the_batch_goes_on() -> None:
    runtime, _, producer = players()
    feed = Feed()
    batch = [
        feed.record(Topic.EVENTS, "brand-a:someone-else", deposit("p1", "t0", "5")),  # wrong key
        feed.record(Topic.EVENTS, "c1", click("c1")),  # a click does not belong here
        feed.msg(Topic.EVENTS, PLAYER, b"\x00garbage"),  # undecodable
        feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t1", "10")),
    ]
    runtime.process_batch(batch)

    dead = decoded(producer, Topic.DEAD_LETTER)
    assert all(isinstance(d, DeadLetter) for d in dead)
    assert [(d.offset, d.stage) for d in dead] == [(0, "players"), (1, "players"), (2, "players")]
    assert "must be 'brand-a:p1'" in dead[0].reason
    assert "Click does not belong" in dead[1].reason
    assert [e.event_id for e in decoded(producer, Topic.CANONICAL)] == ["ev-dep-t1"]


def test_ledger_rows_are_written_before_the_state_that_counts_them() -> None:
    runtime, table, _ = players()
    feed = Feed()
    runtime.process_batch([feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t1", "10"))])

    keys = [key for key, _, _ in table.log]
    assert keys[-1] == PLAYER  # the state last
    rows = keys[:-1]
    assert rows and all(key.startswith(PLAYER + "\x1f") for key in rows)
    assert table.get(PLAYER)["applied"] == {Topic.EVENTS.value: [0, 0]}


def test_one_profile_per_changed_player_per_batch_and_none_for_a_duplicate() -> None:
    runtime, _, producer = players()
    feed = Feed()
    dep = deposit("p1", "t1", "10")
    runtime.process_batch([
        feed.record(Topic.EVENTS, PLAYER, dep),
        feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t2", "20", minutes=3)),
    ])
    [profile] = decoded(producer, Topic.PLAYER_PROFILES)
    assert isinstance(profile, PlayerProfile)

    producer.clear()
    runtime.process_batch([feed.record(Topic.EVENTS, PLAYER, dep)])  # same event, new offset
    assert decoded(producer, Topic.PLAYER_PROFILES) == []
    assert decoded(producer, Topic.CANONICAL) == []


def test_a_batch_read_again_after_a_crash_sends_its_outputs_again_and_changes_nothing() -> None:
    runtime, table, producer = players()
    feed = Feed()
    batch = [
        feed.record(Topic.EVENTS, PLAYER, registration("p1", None)),
        feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t1", "10")),
    ]
    runtime.process_batch(batch)
    first = decoded(producer, Topic.CANONICAL)
    written = len(table.log)

    producer.clear()  # the state landed, the outputs did not
    replayed_before = count("players", "replayed")
    runtime.process_batch(batch)

    assert len(table.log) == written  # nothing written again
    again = decoded(producer, Topic.CANONICAL)
    assert [(e.event_id, e.is_ftd) for e in again] == [(e.event_id, e.is_ftd) for e in first]
    assert [e.event_id for e in first] == ["ev-reg-p1", "ev-dep-t1"]
    assert all(isinstance(e, CanonicalEvent) for e in again)
    assert len(decoded(producer, Topic.PLAYER_PROFILES)) == 1
    assert count("players", "replayed") == replayed_before + 2


# --- the tick input -------------------------------------------------------------------------


class Quiet(BaseModel):
    version: int = 0
    last_deposit_at: datetime
    nudged: bool = False


def _decide(state: Quiet | None, item: Positioned[Any], now: datetime,
            ledger: Ledger | None) -> tuple[Quiet, list[Output], Outcome]:
    at = item.record.occurred_at
    return Quiet(version=(state.version if state else 0) + 1, last_deposit_at=at), [], Outcome.ACCEPTED


def _on_tick(state: Quiet, now: datetime) -> tuple[Quiet | None, list[Output]]:
    """No deposit for 7 days: nudge once (a CRM trigger's shape)."""
    if state.nudged or now - state.last_deposit_at < timedelta(days=7):
        return None, []
    return state.model_copy(update={"nudged": True, "version": state.version + 1}), []


REPLAYED: list[Positioned[Any]] = []


def _replay(state: Quiet, item: Positioned[Any], now: datetime, ledger: Ledger | None,
            ) -> list[Output]:
    REPLAYED.append(item)
    return []


# The registry has no tick topic yet: a topic no other input of this stage uses stands in.
TICKS = Topic.PAGE_VIEWS
QUIET = Stage(
    name="quiet-test", inputs=(Topic.EVENTS,), key_of=lambda r: r.person_id, accepts=(Deposit,),
    state_model=Quiet, state_format=1, decide=_decide, replay=_replay, ticks=TICKS,
    on_tick=_on_tick,
)


def test_a_tick_that_changes_nothing_writes_emits_and_counts_nothing() -> None:
    table, producer = MemoryTable(), MemoryProducer()
    runtime = StageRuntime(QUIET, CODEC, NAMES, table, table, producer, partitions=4)
    feed = Feed()
    runtime.process_batch([feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t1", "10"))])
    written, before = len(table.log), {o: count("quiet-test", o) for o in ("accepted", "duplicate")}

    runtime.process_batch([
        feed.msg(TICKS, PLAYER, None, at=T0 + timedelta(days=1)),  # too early
        feed.msg(TICKS, "brand-a:nobody", None, at=T0 + timedelta(days=30)),  # no state
    ])
    assert len(table.log) == written
    assert producer.sent == []
    assert {o: count("quiet-test", o) for o in before} == before
    assert count("quiet-test", "tick") == 0

    runtime.process_batch([feed.msg(TICKS, PLAYER, None, at=T0 + timedelta(days=8))])
    stored = table.get(PLAYER)
    assert stored["state"]["nudged"] is True
    assert stored["applied"][TICKS.value] == [2, 0]
    assert count("quiet-test", "tick") == 1

    runtime.process_batch([feed.msg(TICKS, PLAYER, None, at=T0 + timedelta(days=9))])  # done
    assert table.get(PLAYER) == stored and count("quiet-test", "tick") == 1

    due = MemoryEvent(MemoryMessage(TICKS.value, 0, 2, PLAYER.encode(), None,
                                    (T0 + timedelta(days=8)).timestamp()))
    runtime.process_batch([due])  # the due tick read again after a crash: a replay like any
    assert table.get(PLAYER) == stored
    assert [(item.offset, item.record.at) for item in REPLAYED] == [(2, T0 + timedelta(days=8))]


def test_ticks_need_on_tick() -> None:
    with pytest.raises(ValueError, match="go together"):
        Stage(name="x", inputs=(), key_of=str, accepts=(), state_model=Quiet, state_format=1,
              decide=_decide, replay=lambda *a, **k: [], ticks=TICKS)



# --- lineages (issue 22: the lost wagers) -----------------------------------------------------


def test_the_stored_envelope_carries_its_lineage_and_a_takeover_forks_it() -> None:
    first, table, _ = players()
    feed = Feed()
    first.process_batch([feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t1", "10"))])
    stored = table.get(PLAYER)
    assert (stored["lineage"], stored["forks"]) == (first.lineage(0), {"": 0})
    assert all(value["l"] == first.lineage(0) for key, value, _ in table.log if key != PLAYER)

    second = StageRuntime(first.stage, CODEC, NAMES, table, table, MemoryProducer(),
                          partitions=4)  # takes over
    second.process_batch([feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t2", "20"))])
    stored = table.get(PLAYER)
    assert second.lineage(0) != first.lineage(0)
    assert (stored["lineage"], stored["forks"]) == (second.lineage(0), {"": 0, first.lineage(0): 1})


def test_a_partition_assigned_again_is_a_new_lineage() -> None:
    runtime, _, _ = players()
    before = runtime.lineage(3)
    runtime.revoked([3])
    assert runtime.lineage(3) != before
    assert runtime.lineage(3) == runtime.lineage(3)


def test_a_state_stored_without_a_lineage_loads_and_decides() -> None:
    runtime, table, producer = players()
    feed = Feed()
    runtime.process_batch([feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t1", "10"))])
    table.flush()
    table.persist()
    legacy = {"state": table.get(PLAYER)["state"], "applied": table.get(PLAYER)["applied"]}
    table.store[PLAYER] = legacy  # as an earlier version wrote it
    producer.clear()
    runtime.process_batch([feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t2", "20"))])
    assert [e.event_id for e in decoded(producer, Topic.CANONICAL)] == ["ev-dep-t2"]
    assert table.get(PLAYER)["forks"] == {"": 1}


def test_a_state_remembers_the_eight_newest_lineages_it_forked_from() -> None:
    _, table, _ = players()
    feed = Feed()
    for n in range(10):
        runtime = StageRuntime(players()[0].stage, CODEC, NAMES, table, table, MemoryProducer(),
                               partitions=4)
        runtime.process_batch([feed.record(Topic.EVENTS, PLAYER, deposit("p1", f"t{n}", "1"))])
    forks = table.get(PLAYER)["forks"]
    assert list(forks.values()) == list(range(2, 10))  # "" (0) and the first lineage (1) dropped
    assert len(forks) == FORKS_KEPT


# --- batch records on batched topics, and records a stage does not want ----------------------


def _sent_to(producer: MemoryProducer, topic: Topic) -> list[tuple[bytes | None, bytes, int]]:
    return [(key, value, partition) for (name, key, value), partition
            in zip(producer.sent, producer.partitions, strict=True) if name == topic.value]


def test_outputs_to_a_batched_topic_go_as_one_batch_record_per_partition_of_their_keys() -> None:
    runtime, _, producer = players()
    feed = Feed()
    keys = [f"brand-a:p{n}" for n in range(12)]
    runtime.process_batch(
        [feed.record(Topic.EVENTS, key, deposit(key.split(":")[1], f"t{n}", "10"))
         for n, key in enumerate(keys)]
    )

    canonical = _sent_to(producer, Topic.CANONICAL)
    wanted = {partition_for(key.encode(), 4) for key in keys}
    assert sorted(partition for *_, partition in canonical) == sorted(wanted)  # one each
    for key, value, partition in canonical:
        items = unpack(CODEC, key, value)
        assert {partition_for(item.key or b"", 4) for item in items} == {partition}
        assert all(item.key == item.record.person_id.encode() for item in items)  # type: ignore[union-attr]
    assert any(isinstance(CODEC.decode(value), EventBatch) for _, value, _ in canonical)
    assert sorted(e.event_id for e in decoded(producer, Topic.CANONICAL)) == sorted(
        f"ev-dep-t{n}" for n in range(12)
    )
    assert len(decoded(producer, Topic.PLAYER_PROFILES)) == 12
    # An unbatched topic: one record per event, partitioned by its key as before.
    facts = _sent_to(producer, Topic.PLAYER_DAY_FACTS)
    assert len(facts) == 12 and {partition for *_, partition in facts} == {-1}


class Seen(BaseModel):
    version: int = 0
    event_ids: list[str] = []


def _see(state: Seen | None, item: Positioned[Any], now: datetime,
         ledger: Ledger | None) -> tuple[Seen, list[Output], Outcome]:
    seen = state or Seen()
    update = {"version": seen.version + 1, "event_ids": [*seen.event_ids, item.record.event_id]}
    return seen.model_copy(update=update), [], Outcome.ACCEPTED


PLAYERS_ONLY = Stage(
    name="wants-test", inputs=(Topic.CANONICAL,), key_of=lambda e: e.person_id,
    accepts=(CanonicalEvent,), state_model=Seen, state_format=1, decide=_see,
    replay=lambda state, item, now, ledger: [],
    wants=lambda e: bool(e.person_id),  # a canonical click has none
)


def test_a_record_the_stage_does_not_want_is_skipped_not_a_dead_letter() -> None:
    # canonical.events as the click and player stages write it: a click keyed by click_id, and
    # a player's registration and deposit in one batch record.
    click_table, click_out = MemoryTable(), MemoryProducer()
    clicks = StageRuntime(click_stage(AttributionWindow(lookback=timedelta(days=30))), CODEC,
                          NAMES, click_table, click_table, click_out, partitions=4)
    player_runtime, _, player_out = players()
    feed = Feed()
    clicks.process_batch([feed.record(Topic.CLICKS, "c1", click("c1"))])
    player_runtime.process_batch([
        feed.record(Topic.EVENTS, PLAYER, registration("p1", None)),
        feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t1", "10")),
    ])
    canonical = click_out.on(Topic.CANONICAL.value) + player_out.on(Topic.CANONICAL.value)
    assert len(canonical) == 2  # the click alone; the player's two events in one record

    table, producer = MemoryTable(), MemoryProducer()
    runtime = StageRuntime(PLAYERS_ONLY, CODEC, NAMES, table, table, producer, partitions=4)
    skipped, dead = count("wants-test", "skipped"), count("wants-test", "dead_letter")
    runtime.process_batch([feed.msg(Topic.CANONICAL, (key or b"").decode(), value)
                           for key, value in canonical])

    assert count("wants-test", "skipped") == skipped + 1  # the click, its key never checked
    assert count("wants-test", "dead_letter") == dead
    assert decoded(producer, Topic.DEAD_LETTER) == []
    assert table.get(PLAYER)["state"]["event_ids"] == ["ev-reg-p1", "ev-dep-t1"]
    assert count("wants-test", "accepted") == 2


def test_a_kind_the_stage_never_acts_on_is_skipped_before_it_is_decoded(monkeypatch) -> None:
    player_runtime, _, player_out = players()
    feed = Feed()
    player_runtime.process_batch([
        feed.record(Topic.EVENTS, PLAYER, registration("p1", None)),
        feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t1", "10")),
    ])
    canonical = player_out.on(Topic.CANONICAL.value)
    stage = dataclasses.replace(PLAYERS_ONLY, name="kinds-test",
                                wants_kind=lambda kind: kind == "deposit")
    table, producer = MemoryTable(), MemoryProducer()
    runtime = StageRuntime(stage, CODEC, NAMES, table, table, producer, partitions=4)
    decoded_types: list[str] = []
    real_decode = CODEC.decode

    def spy(data: bytes | None) -> Any:
        record = real_decode(data)
        decoded_types.append(type(record).__name__ + ":" + getattr(record, "event_type", ""))
        return record

    monkeypatch.setattr(CODEC, "decode", spy)
    skipped = count("kinds-test", "skipped")
    runtime.process_batch([feed.msg(Topic.CANONICAL, (key or b"").decode(), value)
                           for key, value in canonical])
    assert count("kinds-test", "skipped") == skipped + 1  # the registration, never decoded
    assert "CanonicalEvent:registration" not in decoded_types
    assert table.get(PLAYER)["state"]["event_ids"] == ["ev-dep-t1"]


def _echo_or_fail(state: Seen | None, item: Positioned[Any], now: datetime,
                  ledger: Ledger | None) -> tuple[Seen, list[Output], Outcome]:
    record = item.record
    if record.player_id == "p2":
        raise RuntimeError("a bug in the decision")
    canonical = CanonicalEvent(event_id=record.event_id, event_type="deposit",
                               occurred_at=record.occurred_at, processed_at=now,
                               brand_id=record.brand_id, source=record.source,
                               person_id=record.person_id, is_ftd=False, payload="{}")
    new, _, outcome = _see(state, item, now, ledger)
    return new, [Output(Topic.CANONICAL, record.person_id, canonical)], outcome


def test_a_batch_that_raises_still_hands_the_producer_what_the_keys_before_it_sent() -> None:
    """The outputs of a key whose state was written reach the producer even when a later key
    of the micro-batch raises: the pre-commit flush must find them, as when each key's outputs
    were sent at once."""
    stage = Stage(name="echo-test", inputs=(Topic.EVENTS,), key_of=lambda r: r.person_id,
                  accepts=(Deposit,), state_model=Seen, state_format=1, decide=_echo_or_fail,
                  replay=lambda state, item, now, ledger: [])
    table, producer = MemoryTable(), MemoryProducer()
    runtime = StageRuntime(stage, CODEC, NAMES, table, table, producer, partitions=4)
    feed = Feed()
    with pytest.raises(RuntimeError, match="a bug"):
        runtime.process_batch([feed.record(Topic.EVENTS, PLAYER, deposit("p1", "t1", "10")),
                               feed.record(Topic.EVENTS, "brand-a:p2", deposit("p2", "t2", "5"))])
    assert table.get(PLAYER) is not None  # p1's state was written ...
    assert [e.event_id for e in decoded(producer, Topic.CANONICAL)] == ["ev-dep-t1"]  # ... and sent
