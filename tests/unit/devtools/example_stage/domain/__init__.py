"""The "no deposit for 7 days" reminder: its state and its two pure decisions.

`decide_event` keeps the brand account's last approved deposit time from the player stage's
canonical events; `on_tick` is called with the time a tick carries and sends one reminder per
quiet period, once the last deposit is `QUIET` old (a newer deposit starts a new period).
Neither reads a clock: time is an input.
"""

from tests.unit.devtools.example_stage.domain.decide import (
    QUIET,
    decide_event,
    on_tick,
    sent_reminder,
)
from tests.unit.devtools.example_stage.domain.state import ReminderState

__all__ = ["QUIET", "ReminderState", "decide_event", "on_tick", "sent_reminder"]
