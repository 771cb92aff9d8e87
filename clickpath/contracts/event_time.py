"""The sane window of event times every door enforces (issue 13: one event dated in the year
2200 stopped ClickHouse ingestion for every brand).

An event's `occurred_at` must lie between `earliest` (default 2000-01-01) and `max_ahead` past
the time of arrival (default one day, for clock skew and time zones gone wrong). The window is
configured in settings (`CLICKPATH_EVENT_TIME_EARLIEST`, `CLICKPATH_EVENT_TIME_MAX_AHEAD_S`); a
door passes it to `clickpath.connectors.ingress.parse_event`, which rejects the event naming
`occurred_at`. One plain function, so every door says the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_MAX_AHEAD = timedelta(days=1)


@dataclass(frozen=True)
class EventTimeWindow:
    earliest: datetime = DEFAULT_EARLIEST
    max_ahead: timedelta = DEFAULT_MAX_AHEAD

    def problem(self, occurred_at: datetime, now: datetime) -> str | None:
        """Why `occurred_at` is outside the window at `now`, or None when it is inside."""
        return event_time_problem(occurred_at, now, self)


DEFAULT_WINDOW = EventTimeWindow()


def event_time_problem(
    occurred_at: datetime, now: datetime, window: EventTimeWindow = DEFAULT_WINDOW
) -> str | None:
    """Why an event time is not accepted (before `earliest`, or later than `now + max_ahead`),
    or None. Naive times are read as UTC (the models take aware times only)."""
    when = occurred_at if occurred_at.tzinfo else occurred_at.replace(tzinfo=UTC)
    earliest = window.earliest if window.earliest.tzinfo else window.earliest.replace(tzinfo=UTC)
    if when < earliest:
        return f"before {earliest.isoformat()}, the earliest event time accepted"
    latest = now + window.max_ahead
    if when > latest:
        ahead = window.max_ahead.total_seconds()
        return f"more than {ahead:g} s in the future (latest accepted now: {latest.isoformat()})"
    return None
