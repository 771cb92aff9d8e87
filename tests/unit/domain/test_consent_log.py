"""The consent log's answer: every change oldest first, what holds by domain/consent.py's rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clickpath.domain.consent_log import PURPOSES, consent_answer, current_consents
from tests.factories import at


def change(event_id: str, purpose: str, granted: bool, minutes: float,
           processed: datetime | None = None) -> dict[str, Any]:
    return {"event_id": event_id, "purpose": purpose, "granted": granted,
            "occurred_at": at(minutes), "received_at": None,
            "processed_at": processed or at(minutes), "source": "crm"}


def test_the_latest_by_event_time_holds_whatever_order_the_rows_come_in() -> None:
    rows = [change("w", "profiling", False, 60), change("g", "profiling", True, 30, at(90))]
    for ordered in (rows, rows[::-1]):
        now = current_consents(ordered)
        assert now["profiling"] is not None and now["profiling"]["event_id"] == "w"
        assert now["profiling"]["status"] == "withdrawn"
    assert list(now) == list(PURPOSES) and now["marketing_sms"] is None


def test_at_the_same_event_time_the_change_applied_last_holds() -> None:
    first = change("b", "marketing_sms", False, 10, at(11))
    then = change("a", "marketing_sms", True, 10, at(12))  # same event time, applied after
    assert current_consents([then, first])["marketing_sms"]["event_id"] == "a"  # type: ignore[index]


def test_the_history_is_oldest_first_and_current_reads_the_latest_rows_too() -> None:
    newest = [change("w", "marketing_email", False, 60), change("s", "profiling", True, 50)]
    latest = [newest[0], newest[1], change("x", "marketing_sms", True, 1)]  # sms: left out above
    answer = consent_answer("brand-a", "p1", newest, latest, truncated=True)
    assert [c["event_id"] for c in answer["history"]] == ["s", "w"]
    assert answer["history"][1] == {"event_id": "w", "purpose": "marketing_email",
                                    "status": "withdrawn", "occurred_at": "2026-11-01T13:00:00Z",
                                    "received_at": None, "source": "crm"}
    assert answer["current"]["marketing_sms"]["event_id"] == "x"
    assert answer["history_truncated"] is True
