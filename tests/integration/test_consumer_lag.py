"""The worker's consumer-lag gauge, as Prometheus scrapes it (ClickpathStageStalled reads it).

It used to be set only while records were read, at most once a second, so after a burst a
caught-up, idle stage kept whatever it last showed mid-burst and the alert fired on a quiet
pipeline; and records waiting for a stage did not show until the stage read them.
"""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clickpath.devtools.procs import WaitTimeout
from clickpath.infra.broker import free_port
from clickpath.infra.producer import EventProducer
from tests.factories import click, deposit, registration
from tests.integration.harness import wait_until

PLAYERS = 400
STAGES = ("players", "clicks")


def scrape(port: int) -> dict[tuple[str, str], float]:
    """(sample name, stage) -> value summed over other labels; empty while nothing answers."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.TransportError:
        return {}
    values: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, sample.labels.get("stage", ""))
            values[key] = values.get(key, 0.0) + sample.value
    return values


def handled(port: int, stage: str) -> float:
    """Records the stage has handled, whatever the outcome."""
    return scrape(port).get(("clickpath_events_total", stage), 0.0)


def lag(port: int, stage: str) -> float | None:
    return scrape(port).get(("clickpath_consumer_lag", stage))


def start_worker(settings, start_role, **overrides: object) -> int:
    """Start a worker serving /metrics on a free port; returns the port."""
    port = free_port()
    start_role("worker", role_settings=settings.model_copy(update={"metrics_port": port, **overrides}))
    return port


def test_lag_reads_zero_once_every_record_is_processed(settings, codec, start_role) -> None:
    port = start_worker(settings, start_role)
    events = []
    for i in range(PLAYERS):
        events += [click(f"c{i}"), registration(f"p{i}", f"c{i}"), deposit(f"p{i}", f"t{i}", "10")]
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all(events)

    # Every record each stage reads: clicks and the links registrations emit; player events and
    # the attribution decided for each registration.
    expected = {"clicks": 2 * PLAYERS, "players": 3 * PLAYERS}
    wait_until(lambda: {s: handled(port, s) for s in STAGES} == expected, 120,
               "every record handled by the worker's stages", every_s=0.5)

    last: dict[str, float | None] = {}

    def caught_up() -> bool:
        last.update({s: lag(port, s) for s in STAGES})
        return all(v == 0 for v in last.values())

    # Faust commits every few seconds; the gauge is set every second from what was processed.
    try:
        wait_until(caught_up, 8, "clickpath_consumer_lag to read 0 for every stage")
    except WaitTimeout:
        pytest.fail(f"an idle, caught-up worker still reports lag: {last}")
    assert {s: handled(port, s) for s in STAGES} == expected  # and nothing was read again


def test_records_waiting_for_a_stage_show_as_lag_until_it_handles_them(
    settings, codec, start_role
) -> None:
    # The clicks agent holds what it reads until its batch is full or its 5 s wait ends.
    port = start_worker(settings, start_role, agent_batch_max=10_000, agent_batch_wait_ms=5_000)
    # Lag counts Kafka records (a batch record is one): one event per record here.
    with EventProducer(settings, codec=codec, batch_records=False) as producer:
        producer.send_all([click("first")])
        producer.flush()
        # Its batch is handled as a new wait begins: what is sent now waits about 5 s.
        wait_until(lambda: handled(port, "clicks") == 1, 30, "the first click handled", every_s=0.05)
        producer.send_all([click(f"c{i}") for i in range(50)])
        producer.flush()

    wait_until(lambda: lag(port, "clicks") == 50, 4, "50 clicks waiting, shown as lag")
    assert handled(port, "clicks") == 1  # seen while they waited, not once they were read
    wait_until(lambda: handled(port, "clicks") == 51, 15, "the waiting clicks handled")
    wait_until(lambda: lag(port, "clicks") == 0, 5, "the lag back to 0")
