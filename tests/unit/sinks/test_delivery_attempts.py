"""One attempt's outcome, and what counts against an endpoint's circuit: pure decisions."""

from __future__ import annotations

import random

import pytest

from clickpath.domain.retry_policy import RETRYABLE_4XX, RetryPolicy, endpoint_unwell
from clickpath.sinks.delivery.attempts import OutcomeKind, after_answer, again, hold_s
from clickpath.sinks.delivery.circuit import CircuitState

NOW = 1_700_000_000.0
POLICY = RetryPolicy(schedule=(5, 3600), rng=random.Random(1), schedule_jitter=0)


def outcome(status: int | None, error: str | None = None, retry_after: str | None = None, attempt: int = 1):
    return after_answer(POLICY, attempt, status, error, retry_after, NOW, inline_max_s=30)


def test_a_2xx_is_delivered() -> None:
    assert outcome(200).kind is OutcomeKind.DELIVERED and outcome(204).error is None


def test_a_retry_due_soon_stays_inline_and_a_later_one_is_parked() -> None:
    soon = outcome(503)
    assert (soon.kind, soon.at, soon.error) == (OutcomeKind.RETRY_INLINE, NOW + 5, "HTTP 503")
    later = outcome(503, attempt=2)  # the schedule's second delay: an hour
    assert (later.kind, later.at) == (OutcomeKind.PARK, NOW + 3600)
    asked = outcome(429, retry_after="120")  # Retry-After pushes it past the inline limit
    assert (asked.kind, asked.at) == (OutcomeKind.PARK, NOW + 120)
    network = outcome(None, "ConnectError: refused")
    assert (network.kind, network.error) == (OutcomeKind.RETRY_INLINE, "ConnectError: refused")


def test_the_inline_limit_is_inclusive() -> None:
    assert again(NOW + 30, NOW, 30) is OutcomeKind.RETRY_INLINE
    assert again(NOW + 30.001, NOW, 30) is OutcomeKind.PARK


def test_refusals_and_exhaustion_are_dead_letters_and_410_disables() -> None:
    assert outcome(400).kind is OutcomeKind.DEAD_LETTER
    assert outcome(503, attempt=3).kind is OutcomeKind.DEAD_LETTER  # out of attempts
    gone = outcome(410)
    assert (gone.kind, gone.error) == (OutcomeKind.DISABLE, "HTTP 410")


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504, 408, 425, 429])
def test_no_answer_a_5xx_or_a_retryable_4xx_counts_against_the_circuit(status: int | None) -> None:
    assert endpoint_unwell(status)


@pytest.mark.parametrize("status", [200, 204, 301, 302, 400, 401, 404, 410, 422])
def test_an_answer_or_a_refusal_of_one_message_says_the_endpoint_is_up(status: int) -> None:
    assert not endpoint_unwell(status)


def test_the_circuit_and_the_retry_decision_share_one_list_of_retryable_4xx() -> None:
    for status in range(400, 500):
        retried = outcome(status).kind is OutcomeKind.RETRY_INLINE
        assert endpoint_unwell(status) == (status in RETRYABLE_4XX) == retried, status


def test_a_job_waits_for_an_open_circuit_and_looks_again_soon_while_a_probe_is_out() -> None:
    assert hold_s(0.0, CircuitState.CLOSED) == 0
    assert hold_s(0.0, CircuitState.HALF_OPEN) == 0  # the probe itself
    assert hold_s(12.0, CircuitState.OPEN) == 12
    assert hold_s(60.0, CircuitState.HALF_OPEN) == 0.25
