"""The HTTP doors record in the audit trail who changed or read what, from where (issue 26
item 4): the key's id and the client's address; a change whose entry cannot be written fails
with a 500 that says nothing of the files."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from clickpath.connectors import journey_routes
from clickpath.infra.audit import AuditTrail
from clickpath.infra.audit_chain import CHAIN_FILE, HEAD_FILE
from tests.unit.connectors.http_support import service

CLIENT = ("203.0.113.9", 40000)
VERSION = {"effective_from": "2026-12-01", "currency": "EUR", "cpa": {"amount": "100.00"}}


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def recorded(ctx: Any) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    return [(e.actor, e.kind, e.subject, e.origin, dict(e.detail)) for e in ctx.audit.entries()]


def test_a_plan_version_and_an_affiliate_change_are_recorded_with_key_and_origin(tmp_path) -> None:
    app, ctx = service(tmp_path)
    key, admin = ctx.keys.create("admin")
    with TestClient(app, client=CLIENT) as client:
        r = client.post("/v1/admin/plans/p1/versions", headers=bearer(admin),
                        json={"version": VERSION, "assign": [{"affiliate": "aff-1"}]})
        assert r.status_code == 201, r.text
        r = client.put("/v1/admin/affiliates/aff-7", headers=bearer(admin),
                       json={"name": "Seven", "legal_name": "Jane Roe", "vat_id": "MT123"})
        assert r.status_code == 201, r.text
        refused = client.post("/v1/admin/plans/p1/versions", headers=bearer(admin),
                              json={"version": {**VERSION, "currency": "XXX"}})
        assert refused.status_code == 422  # refused: nothing changed, nothing recorded
    assert recorded(ctx) == [
        (key.key_id, "plan.version_added", "plan:p1", "203.0.113.9",
         {"version": 1, "kind": "cpa", "effective_from": "2026-12-01", "currency": "EUR",
          "assign_changed": True}),
        (key.key_id, "catalogue.affiliate_changed", "affiliate:aff-7", "203.0.113.9",
         {"created": True, "fields": ["legal_name", "name", "vat_id"]}),
    ]
    assert "Jane Roe" not in (ctx.audit.directory / CHAIN_FILE).read_text()
    assert ctx.audit.verify() == ([], 2)


def test_an_endpoint_change_is_recorded_without_its_secret_or_url(tmp_path) -> None:
    app, ctx = service(tmp_path, egress_allow=["192.0.2.0/24"])
    key, admin = ctx.keys.create("admin")
    with TestClient(app, client=CLIENT) as client:
        r = client.put("/v1/admin/endpoints/aff-1-main", headers=bearer(admin), json={
            "affiliate_id": "aff-1", "url": "http://192.0.2.10/pb?c={click_id}&token=abc",
            "events": ["ftd"], "sign": True})
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        assert client.post("/v1/admin/endpoints/aff-1-main/disable", headers=bearer(admin),
                           json={}).status_code == 200
    assert [(a, k, s, d["action"]) for a, k, s, _, d in recorded(ctx)] == [
        (key.key_id, "endpoint.changed", "endpoint:aff-1-main", "put"),
        (key.key_id, "endpoint.changed", "endpoint:aff-1-main", "disable"),
    ]
    text = (ctx.audit.directory / CHAIN_FILE).read_text()
    assert secret not in text and "token=abc" not in text


def test_every_journey_read_is_recorded_before_it_is_answered(tmp_path, monkeypatch) -> None:
    app, ctx = service(tmp_path)
    key, operator = ctx.keys.create("operator", brand_id="brand-a")
    known = {"p1": {"person_id": "x"}}
    monkeypatch.setattr(journey_routes, "journey_of",
                        lambda _settings, **kw: known.get(kw["player_id"]))
    with TestClient(app, client=CLIENT) as client:
        assert client.get("/v1/players/p1/journey", headers=bearer(operator)).status_code == 200
        assert client.get("/v1/players/p9/journey?limit=5",
                          headers=bearer(operator)).status_code == 404
    assert recorded(ctx) == [
        (key.key_id, "journey.read", "brand-a:p1", "203.0.113.9", {"found": True, "limit": 1000}),
        (key.key_id, "journey.read", "brand-a:p9", "203.0.113.9", {"found": False, "limit": 5}),
    ]


def test_behind_a_trusted_proxy_the_origin_is_the_forwarded_client(tmp_path) -> None:
    app, ctx = service(tmp_path, tracker_client_ip_header="X-Forwarded-For",
                       tracker_trusted_proxies=["10.0.0.0/8"])
    _, admin = ctx.keys.create("admin")
    with TestClient(app, client=("10.1.2.3", 40000)) as client:
        r = client.put("/v1/admin/affiliates/aff-8", json={"name": "Eight"},
                       headers={**bearer(admin), "X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 201
    assert [origin for *_, origin, _ in recorded(ctx)] == ["198.51.100.7"]


def test_a_change_whose_entry_cannot_be_written_fails_with_a_plain_500(tmp_path) -> None:
    app, ctx = service(tmp_path)
    _, admin = ctx.keys.create("admin")
    with TestClient(app, client=CLIENT) as client:
        assert client.put("/v1/admin/affiliates/aff-1", headers=bearer(admin),
                          json={"name": "One"}).status_code == 200
        # The head replaced by one signed with another key: the chain proves nothing any more.
        other = AuditTrail(tmp_path / "other", b"o" * 32)
        other.record(actor="x", kind="key.created", subject="key:x", origin="o")
        (ctx.audit.directory / HEAD_FILE).write_text((other.directory / HEAD_FILE).read_text())
        r = client.put("/v1/admin/affiliates/aff-1", headers=bearer(admin), json={"name": "Uno"})
    assert r.status_code == 500
    assert "audit trail" in r.json()["detail"] and str(tmp_path) not in r.text
    assert "CLICKPATH_AUDIT_KEY" not in r.text
