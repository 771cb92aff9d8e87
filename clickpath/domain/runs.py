"""Apply a run of records for one key in order: the stateful core both agents share.

The agents take records in micro-batches and group them by key, so a key's state is read,
decoded, encoded and written (one changelog record) once per batch instead of once per record.
Kept free of Faust so it is tested without a broker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from clickpath.contracts.models import Record
from clickpath.domain.outputs import Outcome, Output

S = TypeVar("S")
R = TypeVar("R", bound=Record)

Decide = Callable[[S | None, R], tuple[S, list[Output], Outcome]]
Replay = Callable[[S, R], list[Output]]


@dataclass(frozen=True)
class Positioned(Generic[R]):
    """A decoded record and where it was read (topic and offset make replays recognisable)."""

    topic: str
    offset: int
    record: R


@dataclass
class KeyRun(Generic[S]):
    state: S | None
    applied: dict[str, int]
    changed: bool = False
    outputs: list[Output] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


def apply_run(
    state: S | None,
    applied: dict[str, int],
    records: Iterable[Positioned[R]],
    decide: Decide[S, R],
    replay: Replay[S, R],
) -> KeyRun[S]:
    """Decide each record in turn against the state the previous one left.

    `applied` holds, per input topic, the last offset already applied to this state. A record
    at or below it is being read again after a crash: its state change is kept, but the outputs
    sent with it may have been lost, so `replay` sends them again (all idempotent downstream).
    """
    run = KeyRun(state=state, applied=dict(applied))
    for item in records:
        if run.state is not None and item.offset <= run.applied.get(item.topic, -1):
            run.outputs += replay(run.state, item.record)
            run.outcomes.append(Outcome.REPLAYED)
            continue
        new_state, outputs, outcome = decide(run.state, item.record)
        if outcome is Outcome.ACCEPTED:
            run.state = new_state
            run.applied[item.topic] = item.offset
            run.changed = True
        run.outputs += outputs
        run.outcomes.append(outcome)
    return run
