"""The affiliate portal's routes (connectors/affiliate_routes.py): the affiliate comes from the
key (another one named is a 403, an admin must name one), brand-bound operator and analyst keys
read none, no key is a 401; endpoints are shown without secrets, credentials masked; bad
parameters are a 422 before ClickHouse is asked. tests/integration/test_affiliate_portal.py
runs the same routes on real data."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors import affiliate_routes
from clickpath.domain.endpoints import Endpoint
from tests.unit.connectors.http_support import service


@pytest.fixture
def asked(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def players(_settings, **filters):
        calls.append(("players", filters))
        return {"players": [], "totals": {"players": 0}}

    def deliveries(_settings, **filters):
        calls.append(("deliveries", filters))
        return []

    monkeypatch.setattr(affiliate_routes, "affiliate_player_rows", players)
    monkeypatch.setattr(affiliate_routes, "affiliate_delivery_rows", deliveries)
    return calls


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


ROUTES = ("/v1/affiliate/players", "/v1/affiliate/postbacks")


@pytest.mark.parametrize("route", ROUTES)
def test_who_reads_which_affiliate(tmp_path, asked, route) -> None:
    app, ctx = service(tmp_path)
    _, admin = ctx.keys.create("admin")
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    _, analyst = ctx.keys.create("analyst", brand_id="brand-a")
    _, one = ctx.keys.create("affiliate", affiliate_id="aff-1")
    _, two = ctx.keys.create("affiliate", affiliate_id="aff-2", brand_id="brand-b")
    with TestClient(app) as client:
        assert client.get(route).status_code == 401
        assert client.get(route, headers=bearer("cp_not-a-key")).status_code == 401
        for key in (operator, analyst):
            r = client.get(route, params={"affiliate_id": "aff-1"}, headers=bearer(key))
            assert r.status_code == 403
        r = client.get(route, headers=bearer(one))
        assert r.status_code == 200 and r.json()["affiliate_id"] == "aff-1"
        assert asked.pop()[1]["affiliate_id"] == "aff-1"
        r = client.get(route, params={"affiliate_id": "aff-1"}, headers=bearer(one))
        assert r.status_code == 200 and asked.pop()[1]["affiliate_id"] == "aff-1"
        r = client.get(route, params={"affiliate_id": "aff-2"}, headers=bearer(one))
        assert r.status_code == 403 and "aff-1" in r.json()["detail"]
        r = client.get(route, headers=bearer(two))
        assert r.status_code == 200
        call = asked.pop()[1]
        assert (call["affiliate_id"], call["brand_id"]) == ("aff-2", "brand-b")
        r = client.get(route, headers=bearer(admin))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "affiliate_id"]
        r = client.get(route, params={"affiliate_id": "aff-2"}, headers=bearer(admin))
        assert r.status_code == 200
        call = asked.pop()[1]
        assert (call["affiliate_id"], call["brand_id"]) == ("aff-2", None)
    assert asked == []


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 1001}, "limit"), ({"limit": 0}, "limit"), ({"offset": -1}, "offset"),
    ({"status": "paid"}, "status"), ({"reason": "because"}, "reason"),
])
def test_bad_parameters_are_a_422_naming_them(tmp_path, asked, params, field) -> None:
    app, ctx = service(tmp_path)
    _, one = ctx.keys.create("affiliate", affiliate_id="aff-1")
    with TestClient(app) as client:
        r = client.get("/v1/affiliate/players", params=params, headers=bearer(one))
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["query", field]
    assert asked == []


def test_the_filters_and_page_reach_the_query(tmp_path, asked) -> None:
    app, ctx = service(tmp_path)
    _, one = ctx.keys.create("affiliate", affiliate_id="aff-1")
    with TestClient(app) as client:
        r = client.get("/v1/affiliate/players", headers=bearer(one), params={
            "status": "held", "reason": "duplicate_account", "limit": 1000, "offset": 20})
        assert r.status_code == 200
    assert asked == [("players", {"affiliate_id": "aff-1", "brand_id": None, "status": "held",
                                  "reason": "duplicate_account", "limit": 1000, "offset": 20})]


def test_endpoints_are_shown_without_secrets_credentials_masked(tmp_path, asked) -> None:
    app, ctx = service(tmp_path)
    store = affiliate_routes.EndpointStore.from_settings(ctx.settings)
    store.put(Endpoint(
        endpoint_id="aff-1-main", affiliate_id="aff-1", events=["ftd"],
        url="https://track.example/pb?cid={click_id}&token=s3cr3t&api_key={sub1}",
        secret="whsec_" + "A" * 32, previous_secrets=["whsec_" + "B" * 32],
    ))
    store.put(Endpoint(endpoint_id="aff-2-main", affiliate_id="aff-2", events=["ftd"],
                       url="https://two.example/pb?cid={click_id}"))
    _, one = ctx.keys.create("affiliate", affiliate_id="aff-1")
    with TestClient(app) as client:
        r = client.get("/v1/affiliate/postbacks", headers=bearer(one))
    assert r.status_code == 200
    endpoints = {e["endpoint_id"]: e for e in r.json()["endpoints"]}
    assert "aff-2-main" not in endpoints and "aff-1-main" in endpoints
    shown = endpoints["aff-1-main"]
    assert shown["url"] == "https://track.example/pb?cid={click_id}&token=***&api_key={sub1}"
    assert shown["signed"] is True
    assert "whsec_" not in r.text and "s3cr3t" not in r.text
