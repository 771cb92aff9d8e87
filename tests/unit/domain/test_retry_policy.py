"""Retry decisions on an injected clock and a seeded rng."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from clickpath.domain.retry_policy import (
    DEFAULT_SCHEDULE,
    Decision,
    DecisionKind,
    RetryPolicy,
    parse_retry_after,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC).timestamp()


def http_date(at: float) -> str:
    return format_datetime(datetime.fromtimestamp(at, UTC), usegmt=True)


def exponential(**kw) -> RetryPolicy:
    return RetryPolicy(None, base_s=1.0, max_s=60.0, max_attempts=10, rng=random.Random(7), **kw)


def delay(d: Decision) -> float:
    assert d.kind is DecisionKind.RETRY and d.at is not None
    return d.at - NOW


def test_2xx_is_delivered() -> None:
    for status in (200, 201, 204, 299):
        assert RetryPolicy().decide(1, status, None, None, NOW).kind is DecisionKind.DELIVERED


def test_410_disables_the_endpoint() -> None:
    assert RetryPolicy().decide(3, 410, None, None, NOW).kind is DecisionKind.DISABLE_ENDPOINT


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 422])
def test_other_4xx_give_up_at_once(status: int) -> None:
    d = RetryPolicy().decide(1, status, None, "5", NOW)
    assert d.kind is DecisionKind.GIVE_UP and f"HTTP {status}" in d.reason


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 302])
def test_transient_statuses_are_retried(status: int) -> None:
    assert RetryPolicy().decide(1, status, None, None, NOW).kind is DecisionKind.RETRY


def test_network_errors_are_retried() -> None:
    d = RetryPolicy().decide(1, None, "ConnectError: refused", None, NOW)
    assert d.kind is DecisionKind.RETRY and "ConnectError" in d.reason


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    policy = exponential()
    for attempt in range(1, 10):
        ceiling = min(60.0, 2 ** (attempt - 1))
        samples = [policy.delay_s(attempt) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > 0.8 * ceiling and min(samples) < 0.2 * ceiling  # full jitter, not equal
    assert policy.delay_s(5000) <= 60.0  # no float overflow far down the line


def test_seeded_rng_makes_decisions_reproducible() -> None:
    a = [exponential().decide(n, 503, None, None, NOW).at for n in range(1, 9)]
    b = [exponential().decide(n, 503, None, None, NOW).at for n in range(1, 9)]
    assert a == b


def test_schedule_spans_hours_with_bounded_jitter() -> None:
    policy = RetryPolicy(rng=random.Random(1))
    assert policy.max_attempts == len(DEFAULT_SCHEDULE) + 1
    for attempt, nominal in enumerate(DEFAULT_SCHEDULE, start=1):
        d = delay(policy.decide(attempt, 503, None, None, NOW))
        assert 0.9 * nominal <= d <= min(1.1 * nominal, 6 * 3600)
    exact = RetryPolicy([5, 30, 120], schedule_jitter=0, max_attempts=6)
    assert [delay(exact.decide(n, 500, None, None, NOW)) for n in range(1, 6)] == [5, 30, 120, 120, 120]


def test_attempts_exhausted_give_up() -> None:
    policy = RetryPolicy([1, 2], schedule_jitter=0)
    assert policy.decide(2, 503, None, None, NOW).kind is DecisionKind.RETRY
    d = policy.decide(3, 503, None, None, NOW)
    assert d.kind is DecisionKind.GIVE_UP and "after 3 attempts" in d.reason
    assert exponential().decide(10, None, "timeout", None, NOW).kind is DecisionKind.GIVE_UP
    assert policy.decide(3, 200, None, None, NOW).kind is DecisionKind.DELIVERED  # the last one may succeed


def test_retry_after_seconds_is_a_floor() -> None:
    policy = RetryPolicy([5], schedule_jitter=0, max_attempts=3)
    assert delay(policy.decide(1, 429, None, "120", NOW)) == 120
    assert delay(policy.decide(1, 429, None, "2", NOW)) == 5  # our own backoff is longer
    assert delay(exponential().decide(1, 503, None, "30", NOW)) == 30  # never earlier than asked


def test_retry_after_http_date() -> None:
    policy = RetryPolicy([5], schedule_jitter=0, max_attempts=3)
    when = http_date(NOW + 600)
    assert when.endswith("GMT")
    assert delay(policy.decide(1, 503, None, when, NOW)) == 600
    past = http_date(NOW - 600)
    assert delay(policy.decide(1, 503, None, past, NOW)) == 5


def test_retry_after_beyond_the_cap_gives_up_rather_than_retrying_early() -> None:
    policy = RetryPolicy([5], schedule_jitter=0, max_s=3600, max_attempts=3)
    d = policy.decide(1, 429, None, "86400", NOW)
    assert d.kind is DecisionKind.GIVE_UP and "Retry-After" in d.reason
    assert delay(policy.decide(1, 429, None, "3600", NOW)) == 3600


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Wed, 99 Foo 2026", "²"])
def test_unusable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_bad_calls_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        RetryPolicy().decide(0, 503, None, None, NOW)
    with pytest.raises(ValueError):
        RetryPolicy().decide(1, None, None, None, NOW)
    with pytest.raises(ValueError):
        RetryPolicy([])


@pytest.mark.parametrize("value", ["9" * 400, "9" * 5000, "0" * 300 + "30", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_huge_retry_after_is_capped_not_raised(value) -> None:
    """Issue 13, Low: `Retry-After: 999…9` raised OverflowError and parked the job as an
    internal error every 60 s forever."""
    from clickpath.domain.retry_policy import RETRY_AFTER_CAP_S, parse_retry_after

    asked = parse_retry_after(value, 1_700_000_000.0)
    assert asked is not None and 0 <= asked <= RETRY_AFTER_CAP_S
    decision = RetryPolicy(max_s=3600).decide(1, 503, None, value, 1_700_000_000.0)
    if asked > 3600:
        assert decision.kind is DecisionKind.GIVE_UP and "Retry-After" in decision.reason
