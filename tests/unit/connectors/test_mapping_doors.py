"""Over HTTP, the event API and postback-in apply the source's mapping from the settings before
validating: a mapped event is accepted as the schema names it, an unknown field is a 4xx naming it.
No broker: a producer that acknowledges everything stands in."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clickpath.contracts.models import Kyc, Wager
from tests.unit.connectors.http_support import AckingProducer, service

T = "2026-01-05T10:00:00Z"
MAPPINGS = {
    "casino": {"rename": {"user": "player_id", "round_id": "wager_id", "category": "game_category"},
               "values": {"game_category": {"slots": "casino"}}, "defaults": {"bonus_stake": "0"}},
    "postback": {"values": {"status": {"ok": "verified"}}},
}


@pytest.fixture
def door(tmp_path):
    producer = AckingProducer()
    app, ctx = service(tmp_path, producer, mappings=MAPPINGS)
    _, secret = ctx.keys.create("operator", brand_id="brand-a")
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        yield client, producer


def test_event_api_applies_the_mapping_of_the_events_source(door) -> None:
    client, producer = door
    event = {"event_type": "wager", "event_id": "w-1", "occurred_at": T, "source": "casino", "user": "p-1",
             "round_id": "R-1", "stake": "1", "win": "0", "currency": "EUR", "category": "slots"}
    r = client.post("/v1/events", json={"events": [event, {**event, "event_id": "w-2", "provider": "x"}]})
    assert r.status_code == 207, r.text
    accepted, rejected = r.json()["results"]
    assert accepted["status"] == "accepted"
    assert rejected["status"] == "rejected" and rejected["field"] == "provider"
    assert "from source 'casino'" in rejected["reason"]
    [wager] = producer.sent
    assert isinstance(wager, Wager) and (wager.wager_id, wager.game_category) == ("R-1", "casino")


def test_postback_in_applies_the_postback_sources_mapping(door) -> None:
    client, producer = door
    r = client.get("/v1/postback", params={"event": "kyc", "player_id": "p1", "status": "ok"})
    assert r.status_code == 200, r.text
    [kyc] = producer.sent
    assert isinstance(kyc, Kyc) and kyc.status == "verified" and kyc.source == "postback"
