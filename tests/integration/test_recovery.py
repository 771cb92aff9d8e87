"""Faust tables recover after a worker is SIGKILLed: duplicates sent after the crash are still
recognised and nothing is counted twice (docs/topics.md: the embedded broker's offsets fault)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import funnel_rows
from tests.factories import deposit, registration
from tests.integration.harness import holds_for, wait_until

# Enough players, sent at once, that the worker's producer packs several changelog records into
# one batch: the case where the embedded broker lists a wrong end offset (aiokafka_fixes, fix 3).
PLAYERS = [f"r{i}" for i in range(60)]


def totals(settings) -> tuple[int, int, int, Decimal] | None:
    try:
        rows = funnel_rows(settings)
    except httpx.TransportError:
        return None
    return (
        sum(r["registrations"] for r in rows),
        sum(r["ftds"] for r in rows),
        sum(r["deposits"] for r in rows),
        sum((Decimal(r["deposit_sum"]) for r in rows), Decimal(0)),
    )


@pytest.mark.parametrize("fresh_local_state", [True, False], ids=["from-changelog", "same-dir"])
def test_worker_killed_and_restarted_counts_each_deposit_once(
    settings, codec, start_role, fresh_local_state: bool
) -> None:
    worker = start_role("worker", "--index", "0")
    start_role("sink", "clickhouse")
    first = [deposit(p, f"{p}-t1", "10", minutes=2) for p in PLAYERS]
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all([registration(p, None) for p in PLAYERS] + first)
    wait_until(lambda: totals(settings) == (60, 60, 60, Decimal(600)), 90, "first deposits")

    worker.kill()
    # A new index means an empty local store: the tables must come back from their changelogs.
    start_role("worker", "--index", "1" if fresh_local_state else "0")
    with EventProducer(settings, codec=codec) as producer:
        # CRM retries of every first deposit (new event ids, same transactions), then new ones.
        producer.send_all(d.model_copy(update={"event_id": d.event_id + "-retry"}) for d in first)
        producer.send_all(deposit(p, f"{p}-t2", "5", minutes=3) for p in PLAYERS)
    wait_until(lambda: (totals(settings) or (0, 0, 0))[2] >= 120, 120, "second deposits")
    holds_for(lambda: totals(settings) == (60, 60, 120, Decimal(900)), "nothing counted twice")
