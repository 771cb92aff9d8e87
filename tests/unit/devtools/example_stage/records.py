"""The example stage's one new record (in clickpath: a model in contracts/models.py and its
schema under schemas/; here the schema is `schemas/deposit_reminder.v1.avsc` beside it)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from clickpath.contracts.models import Record, Timestamp

SCHEMAS = Path(__file__).parent / "schemas"


class DepositReminder(Record):
    avro_name: ClassVar[str] = "io.clickpath.example.DepositReminder"
    person_id: str
    last_deposit_at: Timestamp
    due_at: Timestamp
    reminded_at: Timestamp
