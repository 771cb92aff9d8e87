"""The reminder's decisions: `(state, input) -> (state, outputs, outcome)`, no I/O, no clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from clickpath.contracts.models import CanonicalEvent
from clickpath.domain.outputs import Outcome, Output
from tests.unit.devtools.example_stage.domain.state import ReminderState
from tests.unit.devtools.example_stage.records import DepositReminder
from tests.unit.devtools.example_stage.registry import ExampleTopic

QUIET = timedelta(days=7)


def _approved_deposit(event: CanonicalEvent) -> bool:
    if event.event_type != "deposit" or not event.person_id:
        return False
    status = json.loads(event.payload).get("status")
    return status in (None, "approved")  # absent means approved (contracts.models.Deposit)


def decide_event(
    state: ReminderState | None, event: CanonicalEvent
) -> tuple[ReminderState | None, list[Output], Outcome]:
    """Keep the newest approved deposit time (by event time, so arrival order does not matter).
    Any other canonical event, or an older deposit, leaves the state as it is."""
    if not _approved_deposit(event):
        return state, [], Outcome.DUPLICATE
    if state is not None and event.occurred_at <= state.last_deposit_at:
        return state, [], Outcome.DUPLICATE
    version = state.version + 1 if state is not None else 1
    new = ReminderState(person_id=event.person_id, last_deposit_at=event.occurred_at,
                        version=version)
    return new, [], Outcome.ACCEPTED


def on_tick(state: ReminderState, now: datetime) -> tuple[ReminderState | None, list[Output]]:
    """One reminder once the last deposit is `QUIET` old. None when nothing changes (too early,
    or reminded already), so that an idle player's tick writes and sends nothing."""
    if now < state.last_deposit_at + QUIET or state.reminded_at is not None:
        return None, []
    new = state.model_copy(update={"reminded_at": now, "version": state.version + 1})
    return new, sent_reminder(new)


def sent_reminder(state: ReminderState) -> list[Output]:
    """The reminder `state` has sent, if any (what a replayed tick sends again)."""
    if state.reminded_at is None:
        return []
    reminder = DepositReminder(
        person_id=state.person_id, last_deposit_at=state.last_deposit_at,
        due_at=state.last_deposit_at + QUIET, reminded_at=state.reminded_at,
    )
    return [Output(ExampleTopic.REMINDERS, state.person_id, reminder)]  # type: ignore[arg-type]
