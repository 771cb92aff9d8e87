"""End-to-end latency is clickpath's delay, not the event's age (docs/operations.md, "Metrics").

Events dated weeks back (an import, the demo's backdated history) through the real pipeline
(worker and both sinks in their own processes, each serving /metrics as in production): every
observation of clickpath_event_latency_seconds, the series the shipped alerts read, is within
minutes at most (a role's start-up included), at every stage; their age shows in
clickpath_event_time_lag_seconds instead.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from clickpath.contracts.models import utcnow
from clickpath.infra.broker import free_port
from clickpath.infra.producer import EventProducer
from tests.factories import click, deposit, registration
from tests.integration.harness import wait_until

AGE = timedelta(days=14)
LATENCY = "clickpath_event_latency_seconds"
LAG = "clickpath_event_time_lag_seconds"


def histogram(port: int, name: str) -> dict[tuple[str, str], float]:
    """(stage, le) -> cumulative count of `name`'s buckets, ("stage", "count") -> its count;
    empty while nothing answers."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.TransportError:
        return {}
    got: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == f"{name}_bucket":
                got[(s.labels["stage"], s.labels["le"])] = s.value
            elif s.name == f"{name}_count":
                got[(s.labels["stage"], "count")] = s.value
    return got


def counted(port: int, name: str, stage: str, at_least: int) -> dict[tuple[str, str], float]:
    h = histogram(port, name)
    return h if h.get((stage, "count"), 0) >= at_least else {}


def test_backdated_events_stay_out_of_the_latency_histograms(settings, codec, start_role) -> None:
    ports = {role: free_port() for role in ("worker", "clickhouse", "postbacks")}
    start_role("worker", role_settings=settings.model_copy(update={"metrics_port": ports["worker"]}))
    for kind in ("clickhouse", "postbacks"):
        start_role("sink", kind, role_settings=settings.model_copy(update={"metrics_port": ports[kind]}))
    now = utcnow()

    def aged(event, received: bool):
        """`event` moved AGE back from now; stamped as a door stamps it, or not at all (as
        `clickpath import` and the demo produce, straight to Kafka)."""
        moved = event.occurred_at - event.occurred_at.replace(year=2026, month=11, day=1, hour=12,
                                                              minute=0, second=0, microsecond=0)
        update = {"occurred_at": now - AGE + moved, "received_at": now if received else None}
        return event.model_copy(update=update)

    events = []
    for i, received in enumerate((True, False)):
        events += [aged(e, received) for e in (
            click(f"c{i}", affiliate="aff-1"), registration(f"p{i}", f"c{i}"),
            deposit(f"p{i}", f"t{i}", "10.00"))]
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all(events)

    worker = wait_until(lambda: counted(ports["worker"], LATENCY, "players", 4), 90,
                        "the players stage's latency observations")
    clickhouse = wait_until(lambda: counted(ports["clickhouse"], LATENCY, "clickhouse", 6), 90,
                            "the ClickHouse sink's latency observations")
    postbacks = wait_until(
        lambda: counted(ports["postbacks"], LATENCY, "postback_delivered", 4), 90,
        "four postbacks delivered (two registrations, two FTDs)")
    for h, stage in ((worker, "players"), (worker, "clicks"), (clickhouse, "clickhouse"),
                     (postbacks, "postback_delivered")):
        # within the largest bucket (300 s; the roles' start-up is in it), never in +Inf
        assert h[(stage, "count")] > 0 and h[(stage, "300.0")] == h[(stage, "count")], (stage, h)
    lag = histogram(ports["worker"], LAG)
    for stage in ("players", "clicks"):
        week, year = lag[(stage, "604800.0")], lag[(stage, "3.1536e+07")]
        assert week == 0 and year == lag[(stage, "count")] > 0, (stage, lag)
