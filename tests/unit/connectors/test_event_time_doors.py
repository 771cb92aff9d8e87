"""Over HTTP, the event API and postback-in answer 4xx naming `occurred_at` for an event dated
outside the window (issue 13, High 2: `timestamp=7258118400`, the year 2200, stopped ingestion).
No broker: the refusal comes before anything would be produced."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.settings import Settings


@pytest.fixture
def client(tmp_path):
    settings = Settings(data_dir=tmp_path, pseudonym_key="unit-test-key")
    ctx = IngressContext.from_settings(settings)
    _, secret = ctx.keys.create("operator", brand_id="brand-a")
    with TestClient(create_service(settings, ctx)) as c:
        c.headers["Authorization"] = f"Bearer {secret}"
        yield c


def test_postback_in_dated_2200_is_a_422_naming_occurred_at(client) -> None:
    r = client.get("/v1/postback", params={
        "event": "ftd", "player_id": "p1", "transaction_id": "t1", "amount": "5",
        "currency": "EUR", "timestamp": "7258118400"})
    assert r.status_code == 422, r.text
    assert "occurred_at" in r.text


def test_event_api_rejects_the_event_naming_occurred_at(client) -> None:
    event = {"event_type": "kyc", "event_id": "e1", "occurred_at": "2200-01-01T00:00:00Z",
             "player_id": "p1", "status": "verified"}
    r = client.post("/v1/events", json={"events": [event]})
    assert r.status_code == 422, r.text
    [result] = r.json()["results"]
    assert result["status"] == "rejected" and result["field"] == "occurred_at"
