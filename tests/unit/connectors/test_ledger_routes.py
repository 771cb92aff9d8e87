"""The commission routes (connectors/ledger_routes.py): admin keys read every affiliate, an
affiliate key its own only, brand-scoped keys none (the ledger has no brand); a bad period or
time is a 422 naming the parameter, before ClickHouse is asked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors import ledger_routes
from tests.unit.connectors.http_support import service

ROWS = [{"affiliate_id": a, "currency": "EUR", "total": "1.00"} for a in ("aff-1", "aff-2")]


@pytest.fixture
def asked(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def fake(name: str):
        def read(_settings, **filters):
            calls.append((name, filters))
            return [dict(r) for r in ROWS] if name == "statements" else [{"entry_id": "le-1"}]
        return read

    monkeypatch.setattr(ledger_routes, "ledger_entries", fake("ledger"))
    monkeypatch.setattr(ledger_routes, "statement_rows", fake("statements"))
    return calls


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_who_reads_what(tmp_path, asked) -> None:
    app, ctx = service(tmp_path)
    _, admin = ctx.keys.create("admin")
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    _, affiliate = ctx.keys.create("affiliate", affiliate_id="aff-1")
    month = {"period": "2026-11", "as_of": "2026-11-30"}
    with TestClient(app) as client:
        r = client.get("/v1/reports/statements", params=month, headers=bearer(admin))
        assert r.status_code == 200 and [x["affiliate_id"] for x in r.json()] == ["aff-1", "aff-2"]
        assert asked.pop() == ("statements", {
            "period": "2026-11", "as_of": datetime(2026, 11, 30, 23, 59, 59, 999000, UTC)})
        r = client.get("/v1/reports/statements", params=month, headers=bearer(affiliate))
        assert r.status_code == 200 and [x["affiliate_id"] for x in r.json()] == ["aff-1"]
        asked.pop()
        r = client.get("/v1/reports/ledger", params={**month, "affiliate_id": "aff-1"},
                       headers=bearer(affiliate))
        assert r.status_code == 200 and asked.pop()[1]["affiliate_id"] == "aff-1"
        r = client.get("/v1/reports/ledger", params={**month, "affiliate_id": "aff-2"},
                       headers=bearer(affiliate))
        assert r.status_code == 403 and "aff-1" in r.json()["detail"]
        r = client.get("/v1/reports/statements", params=month, headers=bearer(operator))
        assert r.status_code == 403
        assert client.get("/v1/reports/statements", params=month).status_code == 401
    assert asked == []


@pytest.mark.parametrize(("params", "field"), [
    ({"period": "2026-13"}, "period"),
    ({"period": "2026-11", "as_of": "tomorrow"}, "as_of"),
])
def test_a_bad_period_or_time_is_a_422_naming_it(tmp_path, asked, params, field) -> None:
    app, ctx = service(tmp_path)
    _, admin = ctx.keys.create("admin")
    with TestClient(app) as client:
        r = client.get("/v1/reports/statements", params=params, headers=bearer(admin))
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["query", field]
    assert asked == []
