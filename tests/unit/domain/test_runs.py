"""A key's micro-batch is applied in order, with replays recognised by topic and offset."""

from __future__ import annotations

from dataclasses import dataclass, field

from clickpath.contracts.models import CanonicalEvent
from clickpath.contracts.topics import Topic
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.ledger_rows import RowKind, kind_of
from clickpath.domain.outputs import Outcome
from clickpath.domain.players import PlayerPolicy, decide_player, replay_outputs
from clickpath.domain.runs import Positioned, apply_run
from tests.factories import at, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(1000)  # the processing time an agent passes in, from its clock
EVENTS = "clickpath.events"


@dataclass
class Stage:
    """The player decision and its replay as the agent binds them for one key's run: with
    that key's ledger."""

    ledger: MemoryLedger = field(default_factory=MemoryLedger)

    def decide(self, state, item):
        return decide_player(state, item.record, POLICY, NOW, ledger=self.ledger)

    def replay(self, state, item):
        return replay_outputs(state, item.record, POLICY, NOW, ledger=self.ledger)

    def txns(self) -> list[str]:
        """The transaction ids of the payments the player's ledger holds."""
        rows = [row for row in self.ledger.rows if kind_of(row) is RowKind.PAYMENT]
        return sorted(row.split("|", 2)[2] for row in rows)


def test_a_run_equals_the_records_applied_one_by_one() -> None:
    records = [registration("p1", "c1"), deposit("p1", "t1", "50"), deposit("p1", "t2", "20")]
    one_by_one, one_ledger = None, MemoryLedger()
    for record in records:
        one_by_one, _, _ = decide_player(one_by_one, record, POLICY, NOW, ledger=one_ledger)
    p = Stage()
    run = apply_run(None, {}, [Positioned(EVENTS, i, r) for i, r in enumerate(records)], p.decide, p.replay)
    assert run.changed and run.applied == {EVENTS: [2, 0]}
    assert run.outcomes == [Outcome.ACCEPTED] * 3
    assert run.state == one_by_one and p.ledger == one_ledger
    canonical = [o.record for o in run.outputs if o.topic is Topic.CANONICAL]
    assert [(c.event_id, c.is_ftd) for c in canonical if isinstance(c, CanonicalEvent)] == [
        (records[0].event_id, False),
        (records[1].event_id, True),
        (records[2].event_id, False),
    ]


def test_a_duplicate_inside_the_run_is_dropped_and_changes_nothing() -> None:
    p = Stage()
    dep = deposit("p1", "t1", "50")
    run = apply_run(None, {}, [Positioned(EVENTS, 0, dep), Positioned(EVENTS, 1, dep)], p.decide, p.replay)
    assert run.outcomes == [Outcome.ACCEPTED, Outcome.DUPLICATE]
    assert run.applied == {EVENTS: [0, 0]}
    assert run.state is not None and p.txns() == ["t1"]


def test_records_at_or_below_the_applied_offset_are_replayed_not_counted_again() -> None:
    p = Stage()
    first = apply_run(None, {}, [Positioned(EVENTS, 7, deposit("p1", "t1", "50"))], p.decide, p.replay)
    again = apply_run(
        first.state,
        first.applied,
        [Positioned(EVENTS, 7, deposit("p1", "t1", "50")), Positioned(EVENTS, 8, deposit("p1", "t2", "5"))],
        p.decide,
        p.replay,
    )
    assert again.outcomes == [Outcome.REPLAYED, Outcome.ACCEPTED]
    assert again.applied == {EVENTS: [8, 0]}
    assert again.state is not None and p.txns() == ["t1", "t2"]
    assert first.applied == {EVENTS: [7, 0]}  # the caller's map is not changed in place


def test_a_run_of_duplicates_only_leaves_the_state_unwritten() -> None:
    p = Stage()
    first = apply_run(None, {}, [Positioned(EVENTS, 0, deposit("p1", "t1", "50"))], p.decide, p.replay)
    retry = deposit(
        "p1", "t1", "50", event_id="ev-retry"
    )  # an operator retry: a new event id, same transaction
    again = apply_run(first.state, first.applied, [Positioned(EVENTS, 1, retry)], p.decide, p.replay)
    assert again.outcomes == [Outcome.DUPLICATE] and not again.changed


def test_events_of_one_batch_record_are_replayed_by_index() -> None:
    """A crash after the state took items 0 and 1 of the batch at offset 5, but before the
    commit: reading the batch again replays those two and applies item 2 once."""
    p = Stage()
    deps = [deposit("p1", f"t{i}", "10") for i in range(3)]
    first = apply_run(
        None, {}, [Positioned(EVENTS, 5, deps[i], index=i) for i in range(2)], p.decide, p.replay
    )
    assert first.applied == {EVENTS: [5, 1]}
    again = apply_run(
        first.state, first.applied,
        [Positioned(EVENTS, 5, deps[i], index=i) for i in range(3)], p.decide, p.replay,
    )
    assert again.outcomes == [Outcome.REPLAYED, Outcome.REPLAYED, Outcome.ACCEPTED]
    assert again.state is not None and p.txns() == ["t0", "t1", "t2"]


def test_a_state_written_before_batch_records_reads_its_offset_as_index_zero() -> None:
    p = Stage()
    first = apply_run(None, {}, [Positioned(EVENTS, 7, deposit("p1", "t1", "50"))], p.decide, p.replay)
    again = apply_run(
        first.state, {EVENTS: 7},
        [Positioned(EVENTS, 7, deposit("p1", "t1", "50")), Positioned(EVENTS, 8, deposit("p1", "t2", "5"))],
        p.decide, p.replay,
    )
    assert again.outcomes == [Outcome.REPLAYED, Outcome.ACCEPTED]
