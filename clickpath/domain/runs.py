"""Apply a run of records for one key in order: the stateful core both agents share.

The agents group what they read by key, so a key's state is read, decoded, encoded and written
(one changelog record) once per batch instead of once per event. A position is (offset, index):
the Kafka offset of the record and the event's index inside it (0 for a single-event record,
the item's index for an `EventBatch`), so a replayed batch is recognised event by event. Kept
free of Faust so it is tested without a broker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from clickpath.contracts.models import Record
from clickpath.domain.outputs import Outcome, Output

S = TypeVar("S")
R = TypeVar("R", bound=Record)

# What a state remembers per input topic: [offset, index] of the last event applied (a bare
# int, written before batch records existed, is the offset of a single-event record).
Applied = dict[str, list[int] | int]


@dataclass(frozen=True)
class Positioned(Generic[R]):
    """A decoded record and where it was read (topic, offset and index make replays
    recognisable; the topic also tells an adapter which way the record came)."""

    topic: str
    offset: int
    record: R
    index: int = 0

    @property
    def position(self) -> tuple[int, int]:
        return (self.offset, self.index)


Decide = Callable[[S | None, Positioned[R]], tuple[S, list[Output], Outcome]]
Replay = Callable[[S, Positioned[R]], list[Output]]


def applied_position(applied: Applied, topic: str) -> tuple[int, int]:
    value = applied.get(topic, -1)
    if isinstance(value, int):
        return (value, 0)
    return (value[0], value[1])


@dataclass
class KeyRun(Generic[S]):
    state: S | None
    applied: Applied
    changed: bool = False
    outputs: list[Output] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


def apply_run(
    state: S | None,
    applied: Applied,
    records: Iterable[Positioned[R]],
    decide: Decide[S, R],
    replay: Replay[S, R],
) -> KeyRun[S]:
    """Decide each record in turn against the state the previous one left.

    `applied` holds, per input topic, the last position already applied to this state. A
    record at or below it is being read again after a crash: its state change is kept, but the
    outputs sent with it may have been lost, so `replay` sends them again (all idempotent
    downstream).
    """
    run = KeyRun(state=state, applied=dict(applied))
    for item in records:
        if run.state is not None and item.position <= applied_position(run.applied, item.topic):
            run.outputs += replay(run.state, item)
            run.outcomes.append(Outcome.REPLAYED)
            continue
        new_state, outputs, outcome = decide(run.state, item)
        if outcome is Outcome.ACCEPTED:
            run.state = new_state
            run.applied[item.topic] = [item.offset, item.index]
            run.changed = True
        run.outputs += outputs
        run.outcomes.append(outcome)
    return run
