"""A period close's statement_closed webhooks over the real broker: `publish_statement_closed`
produces them acknowledged to the webhooks topic, the delivery engine sends each to the
endpoints subscribed (an affiliate manager's only its affiliate's), signed; publishing the same
close again produces nothing (its records are found on the topic), so nothing is sent twice."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from clickpath.contracts.topics import Topic
from clickpath.devtools.receivers import ScriptedReceiver
from clickpath.domain import signing
from clickpath.domain.endpoints import Endpoint
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.infra.statement_webhooks import publish_statement_closed
from tests.integration.harness import read_records, wait_until
from tests.unit.domain.test_webhooks import row

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def hooks() -> Iterator[ScriptedReceiver]:
    server = ScriptedReceiver()
    yield server
    server.stop()


def _by_path(hooks: ScriptedReceiver) -> dict[str, list]:
    found: dict[str, list] = {}
    for r in hooks.requests():
        found.setdefault(r.path, []).append(r)
    return found


def test_a_close_reaches_the_subscribed_endpoints_once_per_row(settings, codec, hooks, start_role) -> None:
    rows = [row("aff-1"), row("aff-2", manual_amount="-5.00")]
    store = EndpointStore(settings.endpoints_file)
    store.put(Endpoint(endpoint_id="finance", kind="webhook", method="POST", secret=SECRET,
                       url=hooks.url + "/finance", events=["statement_closed"]))
    store.put(Endpoint(endpoint_id="mgr-1", kind="webhook", method="POST", affiliate_id="aff-1",
                       url=hooks.url + "/mgr-1", events=["statement_closed"]))
    store.put(Endpoint(endpoint_id="crm", kind="webhook", method="POST",
                       url=hooks.url + "/crm", events=["qualified_cpa"]))
    start_role("sink", "postbacks")
    assert publish_statement_closed(settings, rows, codec) == 2

    wait_until(lambda: len(hooks.requests()) >= 3, 60, "the finance and manager webhooks")
    got = _by_path(hooks)
    assert sorted(got) == ["/finance", "/mgr-1"]
    finance = {json.loads(r.body)["data"]["affiliate_id"]: r for r in got["/finance"]}
    assert sorted(finance) == ["aff-1", "aff-2"]
    body = json.loads(finance["aff-2"].body)
    assert body["type"] == "statement.closed"
    assert {k: body["data"][k] for k in ("period", "total", "invoice_number", "closed_by",
                                          "manual_amount")} == {
        "period": "2026-11", "total": "125.00", "invoice_number": "INV-2026-11-0001",
        "closed_by": "ops@example", "manual_amount": "-5.00"}
    request = finance["aff-2"]
    sent_at = float(request.headers["webhook-timestamp"])
    signing.verify(SECRET, request.headers, request.body, now=sent_at)  # raises unless signed
    [manager] = got["/mgr-1"]
    assert json.loads(manager.body)["data"]["affiliate_id"] == "aff-1"

    # The same close published again (a retry after a crash): found on the topic, not produced
    assert publish_statement_closed(settings, rows, codec) == 0
    # One more row of that close (the retry got further this time): only it is new
    assert publish_statement_closed(settings, [*rows, row("aff-3")], codec) == 1
    on_topic = [codec.decode(v) for _t, _p, _k, v in read_records(settings, (Topic.WEBHOOKS,))]
    assert sorted(w.affiliate_id for w in on_topic) == ["aff-1", "aff-2", "aff-3"]
    wait_until(lambda: len(hooks.requests()) >= 4, 60, "the third row's webhook")
    assert len(hooks.requests()) == 4 and len(set(hooks.ids())) == 4
