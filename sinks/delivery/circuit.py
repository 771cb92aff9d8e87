"""Per-endpoint circuit breaker: stop hammering a partner endpoint that is down.

closed    requests flow; `failure_threshold` consecutive failures open the circuit (a success
          resets the count). Consecutive, not a rate: at postback volumes per endpoint a rate
          needs a window and a minimum sample, and a streak says "down" just as well.
open      nothing is sent until the cool-down has passed; then `wait_s()` (or `allow()`)
          grants one probe.
half_open one probe is in flight. Its success closes the circuit and resets the cool-down;
          its failure re-opens it with the cool-down multiplied by `backoff`, capped at
          `max_cooldown_s`. A probe whose outcome is never recorded (a crash, a cancelled
          task) stops blocking after `probe_timeout_s`, and a new probe is granted.

Outcomes recorded while open are ignored: they belong to requests started before the circuit
opened and say nothing new. Which outcomes count as failures is the caller's choice: network
errors, timeouts, 5xx and 429 say the endpoint is unwell; a 4xx refusal of one message does not.
Plain and clock-injected; it never sleeps and never sends anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from clickpath.infra.limits import Clock


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        max_cooldown_s: float = 1800.0,
        backoff: float = 2.0,
        probe_timeout_s: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_s <= 0 or max_cooldown_s < cooldown_s or backoff < 1:
            raise ValueError("circuit breaker: threshold >= 1, 0 < cooldown <= max cooldown, backoff >= 1")
        self.failure_threshold, self.base_cooldown_s = failure_threshold, cooldown_s
        self.max_cooldown_s, self.backoff, self.probe_timeout_s = max_cooldown_s, backoff, probe_timeout_s
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self.cooldown_s = cooldown_s  # the current one; grows while probes keep failing
        self._since = clock()  # when the circuit opened, or when the probe was granted

    @property
    def state(self) -> CircuitState:
        return self._state

    def wait_s(self) -> float:
        """0: a request may go now; else the seconds until one may. Use it only right before
        sending: when the cool-down is over, the 0 it returns is the one probe, and the circuit
        waits for that request's outcome.
        """
        if self._state is CircuitState.CLOSED:
            return 0.0
        wait = self._remaining()
        if wait > 0:
            return wait
        self._state, self._since = CircuitState.HALF_OPEN, self._clock()
        return 0.0

    def allow(self) -> bool:
        """`wait_s() == 0`, with the same effect: a True after the cool-down is the probe."""
        return self.wait_s() == 0

    def _remaining(self) -> float:
        wait = self.cooldown_s if self._state is CircuitState.OPEN else self.probe_timeout_s
        return max(0.0, self._since + wait - self._clock())

    def record_success(self) -> None:
        if self._state is CircuitState.OPEN:
            return
        self._state, self._failures, self.cooldown_s = CircuitState.CLOSED, 0, self.base_cooldown_s

    def record_failure(self) -> None:
        if self._state is CircuitState.OPEN:
            return
        if self._state is CircuitState.HALF_OPEN:
            self.cooldown_s = min(self.cooldown_s * self.backoff, self.max_cooldown_s)
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def _open(self) -> None:
        self._state, self._since, self._failures = CircuitState.OPEN, self._clock(), 0


class CircuitBreakers:
    """One breaker per endpoint, each made by `factory` on the endpoint's first use."""

    def __init__(self, factory: Callable[[], CircuitBreaker] = CircuitBreaker) -> None:
        self._factory = factory
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, endpoint: str) -> CircuitBreaker:
        breaker = self._breakers.get(endpoint)
        if breaker is None:
            breaker = self._breakers[endpoint] = self._factory()
        return breaker
