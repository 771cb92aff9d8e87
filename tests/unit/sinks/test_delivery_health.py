"""What the delivery engine publishes of each endpoint's health (issue 21, item 8): retrying
jobs, its circuit, and its endings, by endpoint, for `up`'s status line and `postbacks list`."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client import REGISTRY

from clickpath.contracts.topics import Topic
from clickpath.infra.metrics import EndpointHealth
from clickpath.run.status import failing_segment
from tests.unit.sinks.conftest import endpoint, postback


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def answer(request: httpx.Request, _n: int) -> httpx.Response:
    return httpx.Response({"/sick": 503, "/gone": 404}.get(request.url.path, 200))


def test_retrying_jobs_an_open_circuit_and_endings_are_published_per_endpoint(make_engine) -> None:
    endpoints = [endpoint(f"health-{name}", affiliate=f"aff-{name}", path=f"/{name}?c={{click_id}}")
                 for name in ("sick", "gone", "well")]
    h = make_engine(endpoints, answer, circuit_failures=2, delivery_schedule_s=[60.0])
    before = {(e, o): value("clickpath_endpoint_deliveries_total", endpoint=f"health-{e}", outcome=o)
              for e, o in (("gone", "dead_letter"), ("well", "delivered"))}
    for n in range(3):
        h.read(postback(n, affiliate="aff-sick"), offset=n)
    h.read(postback(3, affiliate="aff-gone"), offset=3)
    h.read(postback(4, affiliate="aff-well"), offset=4)

    async def attempt_everything() -> None:
        for name in ("sick", "gone", "well"):
            await h.attempt_all_due(f"health-{name}")

    asyncio.run(attempt_everything())
    for i, parked in enumerate(h.produced(Topic.DELIVERY_RETRIES)):  # read back, as the engine does
        h.read(parked, offset=i, topic=Topic.DELIVERY_RETRIES)
    h.engine.publish_health()
    # Two failed attempts (the second opened the circuit), and one held by the open circuit.
    assert value("clickpath_endpoint_retrying", endpoint="health-sick") == 3
    assert value("clickpath_endpoint_circuit", endpoint="health-sick") == 2  # open
    assert value("clickpath_endpoint_retrying", endpoint="health-well") == 0
    assert value("clickpath_endpoint_circuit", endpoint="health-well") == 0  # closed
    assert value("clickpath_endpoint_deliveries_total", endpoint="health-gone",
                 outcome="dead_letter") == before[("gone", "dead_letter")] + 1
    assert value("clickpath_endpoint_deliveries_total", endpoint="health-well",
                 outcome="delivered") == before[("well", "delivered")] + 1


def test_the_status_line_names_the_worst_endpoints_first_and_counts_the_rest() -> None:
    health = {
        "ok": EndpointHealth(delivered=10),
        "slow": EndpointHealth(delivered=3, retrying=1),
        "down": EndpointHealth(retrying=7, circuit="open"),
        "probing": EndpointHealth(failed=2, circuit="half_open"),
        "old": EndpointHealth(delivered=1, failed=1),
    }
    assert failing_segment(health) == (
        " · failing: down (7 retrying, circuit open); probing (2 failed, circuit half open);"
        " slow (1 retrying); 1 more (clickpath postbacks list)"
    )
    assert failing_segment({"ok": EndpointHealth(delivered=10)}) == ""
