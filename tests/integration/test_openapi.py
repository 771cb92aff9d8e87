"""The served OpenAPI document, checked against the running service by schemathesis.

Schemathesis generates requests from the document (valid and invalid), sends them to the real
service on the real broker, and checks every answer: no 5xx other than the documented 503,
status codes, content types and bodies as documented, bad input refused.

One check is left out: "schema-valid data is accepted". The document cannot say that an
event's `brand_id` must be the API key's brand, and such an event is rightly refused (with its
field and reason, which test_event_api asserts).
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from tests.integration.harness import ServedApp, wait_until


@pytest.fixture
def served(settings, start_role):
    start_role("sink", "clickhouse")  # the reports read ClickHouse through it
    wait_until(lambda: _answers(settings), 60, "the ClickHouse sink")
    ctx = IngressContext.from_settings(settings)
    with ServedApp(create_service(settings, ctx)) as app:
        _, app.secret = ctx.keys.create("operator", brand_id="brand-a")
        yield app


def _answers(settings) -> bool:
    from clickpath.infra.reports import loopback_headers

    url = f"{settings.reports_url}/reports/stats"
    try:
        return httpx.get(url, timeout=2, headers=loopback_headers(settings)).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_service_keeps_its_documented_contract(served) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    headers = {"Authorization": f"Bearer {served.secret}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/events", "/v1/postback",
                                              "/v1/players/{player_id}/journey"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=40, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow])
        def conforms(case) -> None:
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        conforms()
