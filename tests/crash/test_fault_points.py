"""A real worker killed by the test-only crash hook after its ledger rows landed and before its
state did (CLICKPATH_FAULT_AT=players.after_rows:2) loses no event: the worker that takes over
on a fresh disk recovers from the changelog and every event reaches canonical.events once.

The in-process test (tests/unit/streams/test_crash_points.py) proves every point and type with a
fixed cross-topic order; this one proves the hook and the recovery in real processes, where the
broker picks the order (so it does not pin the order that lost wagers: it passes on the code
before the fix as well, and fails if the hook does not kill or the recovery loses an event)."""

from __future__ import annotations

import signal
import time
from decimal import Decimal

from confluent_kafka import Consumer

from clickpath.contracts.models import Kyc, Login, Wager
from clickpath.contracts.serde import Codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.infra.batching import events_in
from clickpath.infra.kafka import consumer_config
from clickpath.infra.producer import EventProducer
from clickpath.settings import Settings
from tests.factories import at, click, deposit, registration
from tests.integration.harness import wait_until


def journey(player: str) -> tuple[list, list]:
    """What is committed first (KYC, deposit) and what the kill lands in (the registration
    through the click stage, a wager, a login)."""
    common = {"brand_id": "brand-a", "source": "crm", "player_id": player}
    first = [
        Kyc(event_id=f"ev-kyc-{player}", occurred_at=at(1.5), status="pending", **common),
        deposit(player, f"{player}-t1", "10", minutes=2),
    ]
    then = [
        registration(player, f"c-{player}", minutes=1),
        Wager(event_id=f"ev-w-{player}", occurred_at=at(3), wager_id=f"w-{player}",
              stake=Decimal("4"), win=Decimal("1"), bonus_stake=Decimal("0"), currency="EUR",
              game_category="casino", **common),
        Login(event_id=f"ev-login-{player}", occurred_at=at(4), **common),
    ]
    return first, then


class Canonical:
    """The event ids on canonical.events so far, read by one consumer from the start."""

    def __init__(self, settings: Settings, codec: Codec) -> None:
        self._codec = codec
        self._consumer = Consumer(consumer_config(settings, f"test-canonical-{time.time_ns()}"))
        self._consumer.subscribe([topic_name(settings, Topic.CANONICAL)])
        self._ids: set[str] = set()

    def ids(self) -> set[str]:
        for msg in self._consumer.consume(1000, 0.5):
            if not msg.error():
                self._ids |= {r.event_id for r in events_in(self._codec, msg.value())}
        return self._ids

    def close(self) -> None:
        self._consumer.close()


def test_a_worker_killed_after_its_ledger_rows_loses_no_event(
    settings, codec, start_role, monkeypatch
) -> None:
    monkeypatch.setenv("CLICKPATH_TESTING", "1")
    monkeypatch.setenv("CLICKPATH_FAULT_AT", "players.after_rows:2")
    worker = start_role("worker", "--index", "0")
    first, then = journey("f0")
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all([click("c-f0"), *first])
    canonical = Canonical(settings, codec)
    wait_until(lambda: canonical.ids() >= {e.event_id for e in first}, 90, "the first events")
    assert worker.running

    with EventProducer(settings, codec=codec) as producer:
        producer.send_all(then)
    wait_until(lambda: not worker.running, 60, "the worker killed at players.after_rows")
    assert worker.proc is not None and worker.proc.returncode == -signal.SIGKILL

    monkeypatch.delenv("CLICKPATH_FAULT_AT")
    start_role("worker", "--index", "1")  # a fresh disk: the tables come from the changelog
    expected = {e.event_id for e in first + then}
    try:
        wait_until(lambda: canonical.ids() >= expected, 120, "every event after the restart")
    finally:
        canonical.close()
