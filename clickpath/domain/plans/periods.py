"""Commission periods: calendar months in the commission time zone (`YYYY-MM`)."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def period_of(at: datetime, tz: ZoneInfo) -> str:
    """The period an instant falls in, by the wall clock of `tz`."""
    return at.astimezone(tz).strftime("%Y-%m")


def parse_period(text: str) -> tuple[int, int]:
    """(year, month) of `YYYY-MM`; ValueError naming the text otherwise."""
    m = _PERIOD.match(text)
    if not m:
        raise ValueError(f"period {text[:20]!r}: expected YYYY-MM, e.g. 2026-12")
    return int(m.group(1)), int(m.group(2))


def first_day(period: str) -> date:
    year, month = parse_period(period)
    return date(year, month, 1)


def next_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def period_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The period's first instant and the next period's, in `tz`."""
    start = first_day(period)
    end = first_day(next_period(period))
    return (datetime(start.year, start.month, 1, tzinfo=tz),
            datetime(end.year, end.month, 1, tzinfo=tz))
