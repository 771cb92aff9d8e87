"""What to do after a delivery attempt: done, retry at a time, give up, or disable the endpoint.

Postbacks and webhooks are retried over hours, because partners' endpoints go down for that
long. Two ways to space attempts: an explicit schedule of delays (the default, 5 s up to 6 h,
each delay spread by ±`schedule_jitter` so a partner's recovery is not met by every message
at once), or exponential backoff with full jitter, `uniform(0, min(max_s, base_s * 2**n))`.
A `Retry-After` header (seconds or an HTTP date) is honoured: the retry is never earlier than
it asks. When it asks for more than `max_s`, the message is given up (dead-lettered, from
where it can be replayed) rather than retried earlier than the partner allows.

Pure: the caller passes the clock reading and the rng, and does the waiting. An egress
refusal (clickpath.sinks.delivery.egress.EgressRefused) never reaches here: it is final, the
caller gives up.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum

DEFAULT_SCHEDULE: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)
RETRYABLE_4XX = frozenset({408, 425, 429})  # timeout, too early, too many: the endpoint, not the message
EXPONENTIAL_MAX_ATTEMPTS = 16  # with base 5 s and max 6 h: about 12 h of retries on average


class DecisionKind(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"  # dead-letter the message
    DISABLE_ENDPOINT = "disable_endpoint"  # 410 Gone: the partner removed the endpoint


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    reason: str
    at: float | None = None  # Unix time to try again at; only for RETRY


def endpoint_unwell(status: int | None) -> bool:
    """Whether an attempt's answer counts against the endpoint's circuit breaker: no answer
    (a network error), a 5xx, or a retryable 4xx say the endpoint is unwell; a 2xx, a redirect
    or a 4xx refusal of one message says it is up. The same 4xx list as the retry decision, so
    what is retried because the endpoint is busy also counts towards opening its circuit.
    """
    return status is None or status >= 500 or status in RETRYABLE_4XX


# The most a Retry-After is read as (a year): a partner's `Retry-After: 999...9` (hundreds of
# digits) overflowed a float and raised; capped, it is simply more than the policy's max_s.
RETRY_AFTER_CAP_S = 365 * 86400.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a `Retry-After` value asks to wait (0 for a past date, at most
    RETRY_AFTER_CAP_S), or None if unusable. Never raises, whatever the partner sends."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        return RETRY_AFTER_CAP_S if len(digits) > 12 else min(float(int(digits)), RETRY_AFTER_CAP_S)
    try:
        when = parsedate_to_datetime(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # HTTP dates are GMT
        asked = when.timestamp() - now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, asked), RETRY_AFTER_CAP_S)


class RetryPolicy:
    def __init__(
        self,
        schedule: Sequence[float] | None = DEFAULT_SCHEDULE,
        *,
        base_s: float = 5.0,
        max_s: float = 6 * 3600.0,
        max_attempts: int | None = None,
        rng: random.Random | None = None,
        schedule_jitter: float = 0.1,
    ) -> None:
        """`schedule=None` selects exponential backoff. `max_attempts` counts the first attempt
        too; by default one attempt per scheduled delay plus the first, or 16 without a schedule.
        """
        if schedule is not None and not schedule:
            raise ValueError("a retry schedule needs at least one delay (or None for exponential)")
        if not 0 <= schedule_jitter < 1:
            raise ValueError("schedule_jitter is a fraction in [0, 1)")
        self.schedule = tuple(schedule) if schedule is not None else None
        self.base_s, self.max_s, self.schedule_jitter = base_s, max_s, schedule_jitter
        default_attempts = len(self.schedule) + 1 if self.schedule else EXPONENTIAL_MAX_ATTEMPTS
        self.max_attempts = max_attempts if max_attempts is not None else default_attempts
        self._rng = rng or random.Random()

    def delay_s(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based), before Retry-After."""
        n = attempt - 1
        if self.schedule is not None:
            nominal = self.schedule[min(n, len(self.schedule) - 1)]  # past its end: keep the last
            spread = nominal * self._rng.uniform(1 - self.schedule_jitter, 1 + self.schedule_jitter)
            return min(self.max_s, spread)
        ceiling = self.max_s if n >= 64 else min(self.max_s, self.base_s * 2**n)  # 2**n overflows floats
        return self._rng.uniform(0, ceiling)

    def decide(
        self,
        attempt: int,
        status: int | None,
        error: str | None,
        retry_after: str | None,
        now: float,
    ) -> Decision:
        """The verdict on attempt number `attempt` (1-based): its HTTP status, or the error
        that left it without one, and the response's Retry-After header if any. `now` is Unix
        time (wall clock, because Retry-After may be a date), and so is a RETRY's `at`.
        """
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        if status is None and error is None:
            raise ValueError("an attempt ends with a status or an error")
        what = f"HTTP {status}" if status is not None else str(error)
        if status is not None and 200 <= status < 300:
            return Decision(DecisionKind.DELIVERED, what)
        if status == 410:
            return Decision(DecisionKind.DISABLE_ENDPOINT, f"{what}: the endpoint is gone")
        if status is not None and 400 <= status < 500 and status not in RETRYABLE_4XX:
            return Decision(DecisionKind.GIVE_UP, f"{what}: refused by the partner, retrying cannot help")
        if attempt >= self.max_attempts:
            return Decision(DecisionKind.GIVE_UP, f"{what}: gave up after {attempt} attempts")
        return self._retry(attempt, what, retry_after, now)

    def _retry(self, attempt: int, what: str, retry_after: str | None, now: float) -> Decision:
        delay = self.delay_s(attempt)
        asked = parse_retry_after(retry_after, now)
        if asked is not None:
            if asked > self.max_s:
                return Decision(
                    DecisionKind.GIVE_UP,
                    f"{what}: Retry-After asks for {asked:.0f} s, more than {self.max_s:.0f} s",
                )
            delay = max(delay, asked)
        return Decision(DecisionKind.RETRY, f"{what}: retry in {delay:.1f} s", now + delay)
