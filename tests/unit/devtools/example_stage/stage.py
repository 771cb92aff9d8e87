"""The example stage, declared (in clickpath: one module under streams/): what it reads, how it
keys, and which domain functions decide. The runtime does the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clickpath.contracts.models import CanonicalEvent
from clickpath.contracts.topics import Topic
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Outcome, Output
from clickpath.domain.runs import Positioned
from clickpath.streams.runtime import Stage, Tick
from tests.unit.devtools.example_stage.domain import (
    ReminderState,
    decide_event,
    on_tick,
    sent_reminder,
)
from tests.unit.devtools.example_stage.registry import STAGE, ExampleTopic

STATE_FORMAT = 1


def _decide(state: ReminderState | None, item: Positioned[Any], now: datetime,
            ledger: Ledger | None) -> tuple[ReminderState | None, list[Output], Outcome]:
    return decide_event(state, item.record)


def _replay(state: ReminderState, item: Positioned[Any], now: datetime,
            ledger: Ledger | None) -> list[Output]:
    """A tick read again after a crash sends the reminder it made again (idempotent by
    person and deposit time); a canonical event makes no output to send again."""
    return sent_reminder(state) if isinstance(item.record, Tick) else []


def reminder_stage() -> Stage[ReminderState]:
    return Stage(
        name=STAGE,
        inputs=(Topic.CANONICAL,),
        key_of=lambda event: event.person_id or event.click_id or "",  # as the topic is keyed
        accepts=(CanonicalEvent,),
        state_model=ReminderState,
        state_format=STATE_FORMAT,
        decide=_decide,
        replay=_replay,
        timed=(),  # no ingress event: nothing for the latency histogram
        ticks=ExampleTopic.TICKS,  # type: ignore[arg-type]  # a test topic, not a shipped one
        on_tick=on_tick,
    )
