"""Issue 13, High 1 and 4: every route but the public ones needs a key; reports are scoped by
the key, never by the query; answers carry no DSN or driver error."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors import http_service
from clickpath.connectors.keys import KeyStore
from tests.unit.connectors.http_support import AckingProducer, service

PUBLIC = {"/", "/healthz", "/metrics", "/sdk/clickpath.js", "/v1/collect", "/openapi.json", "/docs",
          "/docs/oauth2-redirect", "/redoc"}

ROWS = [
    {"affiliate_id": "aff-1", "campaign_id": "c1", "currency": "EUR", "clicks": 10,
     "registrations": 2, "ftds": 1, "deposits": 1, "deposit_sum": "50.00", "ftd_sum": "50.00",
     "chargebacks": 1, "chargeback_sum": "10.00", "stakes": "400.00", "wins": "300.00",
     "bonus_cost": "20.00"},
    {"affiliate_id": "aff-2", "campaign_id": "c2", "currency": "EUR", "clicks": 7,
     "registrations": 1, "ftds": 1, "deposits": 1, "deposit_sum": "20.00"},
]


@pytest.fixture
def asked(monkeypatch) -> list[dict[str, Any]]:
    """The filters each report asked ClickHouse for; it answers two affiliates' rows."""
    calls: list[dict[str, Any]] = []

    def funnel_rows(_settings, **filters):
        calls.append(filters)
        return [dict(r) for r in ROWS]

    monkeypatch.setattr(http_service, "funnel_rows", funnel_rows)
    return calls


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_every_route_but_the_public_ones_refuses_a_keyless_caller(tmp_path) -> None:
    app, _ = service(tmp_path)
    checked = 0
    with TestClient(app) as client:
        for template, operations in app.openapi()["paths"].items():  # every route it declares
            if template in PUBLIC or template == "/c" or template.startswith("/c/"):
                continue  # the tracker's links are public by design
            path = re.sub(r"\{[^}]+\}", "x", template)
            for method in operations:
                r = client.request(method.upper(), path, params={"event": "ftd"})
                assert r.status_code == 401, f"{method} {path}: {r.status_code} {r.text}"
                assert r.headers["www-authenticate"] == "Bearer"
                checked += 1
        assert checked >= 8
        assert client.get("/v1/no-such-route").status_code == 401  # unknown paths too
        for path in ("/healthz", "/metrics", "/sdk/clickpath.js", "/openapi.json"):
            assert client.get(path).status_code == 200, path


def test_reports_take_the_scope_from_the_key_never_from_the_query(tmp_path, asked) -> None:
    app, ctx = service(tmp_path)
    keys = ctx.keys
    _, admin = keys.create("admin")
    _, operator = keys.create("operator", brand_id="brand-a")
    _, analyst = keys.create("analyst", brand_id="brand-a")
    _, affiliate = keys.create("affiliate", affiliate_id="aff-1")
    with TestClient(app) as client:
        r = client.get("/v1/reports/funnel", params={"brand_id": "otherbrand"})
        assert r.status_code == 401 and asked == []  # the finding: 200 with any brand's data

        r = client.get("/v1/reports/funnel", params={"brand_id": "brand-b"}, headers=bearer(operator))
        assert r.status_code == 403 and "brand-a" in r.json()["detail"]
        assert asked == []
        for secret in (operator, analyst):
            r = client.get("/v1/reports/funnel", headers=bearer(secret))
            assert r.status_code == 200, r.text
            assert asked.pop()["brand_id"] == "brand-a"
        r = client.get("/v1/reports/funnel", params={"brand_id": "brand-a"}, headers=bearer(analyst))
        assert r.status_code == 200 and asked.pop()["brand_id"] == "brand-a"

        r = client.get("/v1/reports/funnel", params={"brand_id": "brand-b"}, headers=bearer(admin))
        assert r.status_code == 200 and asked.pop()["brand_id"] == "brand-b"
        assert {row["affiliate_id"] for row in r.json()} == {"aff-1", "aff-2"}

        r = client.get("/v1/reports/funnel", headers=bearer(affiliate))
        assert r.status_code == 200
        assert [row["affiliate_id"] for row in r.json()] == ["aff-1"]  # only its own


def test_a_key_bound_to_no_brand_reads_nothing(tmp_path, asked) -> None:
    """An analyst key minted before keys had to name a brand is refused, not let see all."""
    app, ctx = service(tmp_path)
    legacy_path = ctx.keys.path
    _, secret = ctx.keys.create("analyst", brand_id="tmp")
    legacy_path.write_text(legacy_path.read_text().replace('"brand_id": "tmp"', '"brand_id": null'))
    with TestClient(app) as client:
        r = client.get("/v1/reports/funnel", headers=bearer(secret))
    assert r.status_code == 403 and asked == []


def test_scoped_roles_need_their_scope(tmp_path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    with pytest.raises(ValueError, match="analyst key needs --brand"):
        store.create("analyst")
    with pytest.raises(ValueError):
        store.create("admin", brand_id="b")
    with pytest.raises(ValueError):
        store.create("operator", brand_id="b", affiliate_id="a")
    assert store.create("analyst", brand_id="b")[0].brand_id == "b"


def test_the_cli_has_its_own_key_on_this_host(tmp_path) -> None:
    store = KeyStore(tmp_path / "api-keys.json")
    secret = store.local_secret()
    key = store.authenticate(secret)
    assert key is not None and key.role == "admin" and key.label == "local-cli"
    assert os.stat(store.local_secret_path).st_mode & 0o777 == 0o600
    assert KeyStore(tmp_path / "api-keys.json").local_secret() == secret  # kept, not re-minted
    store.revoke(key.key_id)
    again = store.local_secret()
    assert again != secret and store.authenticate(again) is not None


def test_clickpath_report_needs_no_key_flag(tmp_path, asked, capsys) -> None:
    """`clickpath report` against the running service (embedded ClickHouse) still works."""
    import argparse

    from clickpath.run.commands_data import cmd_report
    from tests.integration.harness import ServedApp

    app, ctx = service(tmp_path)
    with ServedApp(app) as served:
        settings = ctx.settings.with_overrides(http_port=served.port)
        cmd_report(settings, argparse.Namespace(brand=None, since=None, until=None, format="json"))
    assert "aff-2" in capsys.readouterr().out and asked == [{"brand_id": None, "since": None,
                                                            "until": None, "by_day": False}]


def test_a_report_503_names_no_dsn_and_no_driver_error(tmp_path, monkeypatch) -> None:
    app, ctx = service(tmp_path)
    _, admin = ctx.keys.create("admin")

    def unreachable(_settings, **_filters):
        raise OSError("cannot connect to http://clickpath:s3cret@clickhouse:8123 (refused)")

    monkeypatch.setattr(http_service, "funnel_rows", unreachable)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/v1/reports/funnel", headers=bearer(admin))
    assert r.status_code == 503
    assert "s3cret" not in r.text and "clickhouse:8123" not in r.text and "refused" not in r.text


def test_broker_errors_stay_out_of_answers(tmp_path) -> None:
    leak = "KafkaError{code=_TRANSPORT,str=\"sasl://kafka-user:pw@broker-7:9093 down\"}"
    app, ctx = service(tmp_path, producer=AckingProducer(error=leak))
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    with TestClient(app) as client:
        r = client.get("/v1/postback", headers=bearer(operator), params={
            "event": "registration", "player_id": "p1"})
        assert r.status_code == 503 and "broker-7" not in r.text
        r = client.post("/v1/events", headers=bearer(operator), json={"events": [{
            "event_type": "registration", "event_id": "r1", "occurred_at": "2026-01-01T00:00:00Z",
            "player_id": "p1"}]})
        assert r.status_code == 503 and "broker-7" not in r.text


def test_the_report_carries_the_players_value(tmp_path, asked, capsys) -> None:
    """The HTTP report, and `clickpath report` through it (embedded ClickHouse), in JSON and CSV."""
    import argparse
    import csv
    import io
    import json

    from clickpath.run.commands_data import cmd_report
    from tests.integration.harness import ServedApp

    app, ctx = service(tmp_path)
    _, affiliate = ctx.keys.create("affiliate", affiliate_id="aff-1")
    with TestClient(app) as client:
        [row] = client.get("/v1/reports/funnel", headers=bearer(affiliate)).json()
    assert (row["chargebacks"], row["declined_deposits"], row["withdrawals"]) == (1, 0, 0)
    assert (row["ftd_sum"], row["chargeback_sum"], row["bonus_cost"]) == (
        {"EUR": "50.00"}, {"EUR": "10.00"}, {"EUR": "20.00"}
    )
    assert (row["ggr"], row["ngr"], row["withdrawal_sum"]) == (
        {"EUR": "100.00"}, {"EUR": "70.00"}, {"EUR": "0.00"}
    )
    with ServedApp(app) as served:
        settings = ctx.settings.with_overrides(http_port=served.port)
        for fmt in ("json", "csv"):
            cmd_report(settings, argparse.Namespace(brand=None, since=None, until=None, format=fmt))
    out = capsys.readouterr().out
    listed = json.loads(out[: out.index("brand_id,")])
    assert isinstance(listed, list) and listed[0]["ngr"] == {"EUR": "70.00"}
    by_affiliate = {r["affiliate_id"]: r for r in csv.DictReader(io.StringIO(out[out.index("brand_id,"):]))}
    assert by_affiliate["aff-1"]["ngr"] == "70.00" and by_affiliate["aff-1"]["currency"] == "EUR"
    assert by_affiliate["aff-1"]["chargebacks"] == "1"
