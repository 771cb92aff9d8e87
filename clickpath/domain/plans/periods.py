"""Commission periods: calendar months in the commission time zone (`YYYY-MM`)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def period_of(at: datetime, tz: ZoneInfo) -> str:
    """The period an instant falls in, seen in `tz`; a naive `at` is refused (which zone?)."""
    if at.tzinfo is None:
        raise ValueError("period_of needs an aware datetime")
    return at.astimezone(tz).strftime("%Y-%m")


def check_period(period: str) -> str:
    if not _PERIOD.match(period):
        raise ValueError(f"a period is YYYY-MM, not {period[:16]!r}")
    return period


def period_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the period: local midnight of its first day and of the next month's."""
    match = _PERIOD.match(period)
    if not match:
        raise ValueError(f"a period is YYYY-MM, not {period[:16]!r}")
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return start, end
