"""The circuit breaker's transitions, on a fake clock."""

from __future__ import annotations

import pytest

from clickpath.sinks.delivery.circuit import CircuitBreaker, CircuitBreakers, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **kw: float) -> CircuitBreaker:
    settings = {"failure_threshold": 3, "cooldown_s": 10.0, "max_cooldown_s": 35.0, "probe_timeout_s": 5.0}
    return CircuitBreaker(**{**settings, **kw}, clock=clock)  # type: ignore[arg-type]


def fail(b: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        assert b.allow()
        b.record_failure()


def test_closed_until_threshold_consecutive_failures() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 2)
    b.record_success()  # resets the streak
    fail(b, 2)
    assert b.state is CircuitState.CLOSED and b.allow() and b.wait_s() == 0
    b.record_failure()
    assert b.state is CircuitState.OPEN


def test_open_refuses_until_the_cooldown_then_grants_one_probe() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    assert not b.allow()
    clock.now += 4
    assert b.wait_s() == 6 and not b.allow() and b.state is CircuitState.OPEN
    clock.now += 6
    assert b.wait_s() == 0  # the probe
    assert b.state is CircuitState.HALF_OPEN
    assert not b.allow() and b.wait_s() == 5  # one probe at a time, until the probe timeout


def test_probe_success_closes_and_resets_the_cooldown() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 10
    assert b.allow()
    b.record_failure()  # cool-down now 20 s
    clock.now += 20
    assert b.allow()
    b.record_success()
    assert b.state is CircuitState.CLOSED and b.cooldown_s == 10
    fail(b, 2)
    assert b.state is CircuitState.CLOSED  # a fresh streak is needed to open again


def test_probe_failure_reopens_with_a_longer_capped_cooldown() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    waits = []
    for _ in range(4):
        waits.append(b.wait_s())
        clock.now += waits[-1]
        assert b.allow()
        b.record_failure()
        assert b.state is CircuitState.OPEN
    assert waits == [10, 20, 35, 35]  # doubled, capped at max_cooldown_s


def test_a_lost_probe_stops_blocking_after_the_probe_timeout() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 10
    assert b.allow()  # the probe's result never comes back
    clock.now += 4.9
    assert not b.allow()
    clock.now += 0.1
    assert b.allow() and b.state is CircuitState.HALF_OPEN


def test_late_outcomes_while_open_are_ignored() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 3
    b.record_success()  # a request started before the circuit opened
    b.record_failure()
    assert b.state is CircuitState.OPEN and b.wait_s() == 7


def test_settings_are_checked() -> None:
    for bad in ({"failure_threshold": 0}, {"cooldown_s": 0}, {"max_cooldown_s": 5}, {"backoff": 0.5}):
        with pytest.raises(ValueError):
            breaker(Clock(), **bad)


def test_one_breaker_per_endpoint() -> None:
    clock = Clock()
    breakers = CircuitBreakers(lambda: breaker(clock))
    fail(breakers.get("https://a.example/pb"), 3)
    assert breakers.get("https://a.example/pb").state is CircuitState.OPEN
    assert breakers.get("https://b.example/pb").state is CircuitState.CLOSED
