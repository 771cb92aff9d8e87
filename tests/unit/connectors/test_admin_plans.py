"""The plans admin API: admin keys only, a version added (never edited), a bad one refused
naming the field, and the catalogue's sub-affiliate and payout fields."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.connectors.http_support import service

VERSION = {"effective_from": "2026-12-01", "currency": "EUR",
           "cpa": {"amount": "100.00", "min_first_deposit": "20.00"}}


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def test_only_an_admin_key_reads_or_adds_plans(tmp_path) -> None:
    app, ctx = service(tmp_path)
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    _, affiliate = ctx.keys.create("affiliate", affiliate_id="aff-1")
    with TestClient(app) as client:
        assert client.get("/v1/admin/plans").status_code == 401
        for key in (operator, affiliate):
            assert client.get("/v1/admin/plans", headers=bearer(key)).status_code == 403
            r = client.post("/v1/admin/plans/p1/versions", headers=bearer(key),
                            json={"version": VERSION, "assign": [{"affiliate": "aff-1"}]})
            assert r.status_code == 403
    assert not (ctx.settings.plans_path).exists()


def test_a_version_is_added_with_its_source_and_a_bad_one_names_the_field(tmp_path) -> None:
    app, ctx = service(tmp_path)
    _, admin = ctx.keys.create("admin")
    with TestClient(app) as client:
        r = client.post("/v1/admin/plans/p1/versions", headers=bearer(admin),
                        json={"version": VERSION, "assign": [{"affiliate": "aff-1"}]})
        assert r.status_code == 201, r.text
        [v] = r.json()["versions"]
        assert (v["version"], v["source"], v["kind"], v["cpa"]["amount"]) == (1, "admin", "cpa", "100.00")
        bad = {**VERSION, "effective_from": "2027-01-01", "revshare": {"mode": "tiered"}}
        r = client.post("/v1/admin/plans/p1/versions", headers=bearer(admin), json={"version": bad})
        assert r.status_code == 422 and "plans.p1.versions[0].revshare" in r.text
        r = client.get("/v1/admin/plans/p1", headers=bearer(admin))
        assert [v["version"] for v in r.json()["versions"]] == [1]
        assert client.get("/v1/admin/plans/nope", headers=bearer(admin)).status_code == 404


def test_an_affiliate_parent_must_exist_and_not_loop(tmp_path) -> None:
    app, ctx = service(tmp_path)
    _, admin = ctx.keys.create("admin")
    with TestClient(app) as client:
        r = client.put("/v1/admin/affiliates/aff-2", headers=bearer(admin),
                       json={"name": "Two", "parent_id": "aff-9"})
        assert r.status_code == 422 and "parent_id" in r.text
        r = client.put("/v1/admin/affiliates/aff-2", headers=bearer(admin),
                       json={"name": "Two", "parent_id": "aff-1", "payout_currency": "USD"})
        assert r.status_code == 201 and r.json()["parent_id"] == "aff-1"
        r = client.put("/v1/admin/affiliates/aff-1", headers=bearer(admin), json={"parent_id": "aff-2"})
        assert r.status_code == 422 and "cycle" in r.text
