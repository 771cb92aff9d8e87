"""What the reminder stage stores per brand account."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ReminderState(BaseModel):
    person_id: str
    last_deposit_at: datetime  # the newest approved deposit, by event time
    reminded_at: datetime | None = None  # when the reminder for `last_deposit_at` went out
    version: int = 0
