"""What becomes of a delivery after one attempt, and whether an attempt may go at all.

Pure decisions, so that they are tested on their own: the caller passes the clock reading,
the answer (status, or the error that left it without one) and the retry policy, and gets an
`Outcome` to carry out. Nothing here sends, sleeps, produces or reads a clock.

- delivered: a 2xx.
- retry inline: the policy retries, due within `inline_max_s`: back into the endpoint's lane.
- park: the policy retries, due later: the job goes to the retry topic (read back by this
  process), so that the record it came from can be committed meanwhile.
- dead letter: the policy gives up (a 4xx refusal, too many attempts, a Retry-After beyond the
  policy's longest wait); the dead letter carries the job for `clickpath deliveries replay`.
- disable: 410 Gone, the partner removed the endpoint; it is disabled and the job dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from clickpath.domain.retry_policy import DecisionKind, RetryPolicy
from clickpath.sinks.delivery.circuit import CircuitState

PROBE_RECHECK_S = 0.25  # while a probe is out its answer may close the circuit any moment


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    RETRY_INLINE = "retry_inline"
    PARK = "park"
    DEAD_LETTER = "dead_letter"
    DISABLE = "disabled"


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    error: str | None = None  # what went wrong, for the attempt log and the dead letter
    at: float | None = None  # RETRY_INLINE and PARK: Unix time the job is due again


def error_text(status: int | None, error: str | None) -> str:
    """How an unsuccessful answer is written in logs and dead letters."""
    return error or f"HTTP {status}"


def again(at: float, now: float, inline_max_s: float) -> OutcomeKind:
    """A job due again at `at`: kept in memory when that is soon, parked when it is not."""
    return OutcomeKind.RETRY_INLINE if at - now <= inline_max_s else OutcomeKind.PARK


def after_answer(
    policy: RetryPolicy, attempt: int, status: int | None, error: str | None,
    retry_after: str | None, now: float, inline_max_s: float,
) -> Outcome:
    """The outcome of attempt number `attempt` (1-based) answered `status` (or failed with
    `error`), per the retry policy; `now` is Unix time."""
    decision = policy.decide(attempt, status, error, retry_after, now)
    what = error_text(status, error)
    if decision.kind is DecisionKind.DELIVERED:
        return Outcome(OutcomeKind.DELIVERED)
    if decision.kind is DecisionKind.RETRY:
        assert decision.at is not None
        return Outcome(again(decision.at, now, inline_max_s), what, decision.at)
    if decision.kind is DecisionKind.DISABLE_ENDPOINT:
        return Outcome(OutcomeKind.DISABLE, what)
    return Outcome(OutcomeKind.DEAD_LETTER, what)


def hold_s(circuit_wait_s: float, state: CircuitState) -> float:
    """How long a job waits because of its endpoint's circuit (0: it may go now).

    `circuit_wait_s` is the breaker's `wait_s()`, asked right before sending. While a probe
    is out (half open) the job looks again soon rather than at the probe's timeout.
    """
    if circuit_wait_s <= 0:
        return 0.0
    if state is CircuitState.HALF_OPEN:
        return min(circuit_wait_s, PROBE_RECHECK_S)
    return circuit_wait_s
