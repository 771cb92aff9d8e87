"""Touchpoints through the real pipeline (embedded broker, Faust worker, ClickHouse sink in their
own processes, no mocks): the load generator's multi-touch journeys, sent with duplicates and
late events, reach ClickHouse's `touchpoints` exactly as the ground truth's paths, and
`query_paths` reads them as multi-touch paths."""

from __future__ import annotations

import httpx

from clickpath.devtools.loadgen import JourneyRates, LoadGenerator, Population
from clickpath.devtools.verify import verify_touchpoints
from clickpath.infra.clickhouse import connect
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import analyst_query, clickhouse_stats
from clickpath.infra.touchpoints import query_paths
from tests.integration.harness import wait_until

POPULATION = Population.synthetic(brands=2, affiliates=4, campaigns=2)


def written(settings) -> int:
    try:
        return sum(clickhouse_stats(settings)["events_by_type"].values())
    except httpx.TransportError:
        return 0  # the sink is still starting


def linked(settings) -> int:
    try:
        answer = analyst_query(settings, "SELECT count() FROM touchpoints", None)
    except httpx.TransportError:
        return 0
    return int(answer["rows"][0][0])


def test_generated_journeys_become_their_touchpoint_paths(settings, codec, start_role) -> None:
    start_role("worker", role_settings=settings)
    sink = start_role("sink", "clickhouse", role_settings=settings)
    gen = LoadGenerator(POPULATION, JourneyRates(duplicate=0.05, late=0.1), seed=23)
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all(list(gen.events(900)))
    truth = gen.truth
    assert sum(len(p) > 1 for p in truth.paths.values()) > 10

    # Every event written, and every registered account's touchpoints (the identity stage's,
    # written by the sink after the events they come from).
    wait_until(
        lambda: written(settings) >= truth.unique_events,
        120,
        "every canonical event in ClickHouse",
        every_s=0.5,
    )
    expected = sum(len(p) for p in truth.paths.values())
    wait_until(lambda: linked(settings) >= expected, 120, f"{expected} touchpoints", every_s=0.5)
    sink.stop()  # the embedded engine opens in one process at a time
    client = connect(settings)
    db = settings.clickhouse_database
    try:
        rows = client.query(
            f"SELECT person_id, click_id FROM {db}.touchpoints ORDER BY person_id, clicked_at"
        ).result_rows
        assert verify_touchpoints(truth, [(str(p), str(c)) for p, c in rows]) == []
        paths = query_paths(
            client,
            db,
            brand_id=None,
            conversion="registration",
            by="affiliate",
            value="ngr",
            since=None,
            until=None,
            lookback_days=30,
        )
    finally:
        client.close()
    converted = [p for p in paths if p.converted]
    assert sorted(len(p.channels) for p in converted) == sorted(len(c) for c in truth.paths.values())
    assert any(len(set(p.channels)) > 1 for p in converted)
    # the clicks of journeys that never registered are the paths that did not convert
    assert any(not p.converted and len(p.channels) > 1 for p in paths)
