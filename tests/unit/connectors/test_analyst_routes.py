"""The analyst routes (connectors/analyst_routes.py): attribution, cohorts and retention for
admin, operator, analyst and affiliate keys scoped like the funnel; SQL for analyst and admin
keys only; parameters checked with the field named; no ClickHouse words in any answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors import analyst_routes
from clickpath.domain.multitouch import MODELS
from clickpath.infra.analyst_sql import QueryRefused
from tests.unit.connectors.http_support import service

ATTRIBUTION = [
    {
        "model": "last",
        "affiliate_id": "aff-1",
        "conversion": "registration",
        "conversions": "1.5",
        "value": {"EUR": "30.00"},
    },
    {
        "model": "last",
        "affiliate_id": "aff-2",
        "conversion": "registration",
        "conversions": "0.5",
        "value": {"EUR": "10.00"},
    },
]
COHORTS = [
    {"brand_id": "brand-a", "affiliate_id": a, "campaign_id": "c", "cohort": "2026-01-01", "players": 1}
    for a in ("aff-1", "aff-2")
]
ANSWER = {"columns": ["n"], "types": ["UInt64"], "rows": [[1]], "truncated": False, "truncated_reason": None}


@pytest.fixture
def asked(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    """(report, the arguments each asked ClickHouse with); each answers two affiliates' rows."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def fake(name: str, rows: Any):
        def report(_settings, *args, **filters):
            calls.append((name, {**filters, **({"query": args[0], "brand_id": args[1]} if args else {})}))
            return [dict(r) for r in rows] if isinstance(rows, list) else dict(rows)

        return report

    monkeypatch.setattr(analyst_routes, "attribution_rows", fake("attribution", ATTRIBUTION))
    monkeypatch.setattr(analyst_routes, "cohort_rows", fake("cohorts", COHORTS))
    monkeypatch.setattr(analyst_routes, "retention_rows", fake("retention", COHORTS))
    monkeypatch.setattr(analyst_routes, "analyst_query", fake("sql", ANSWER))
    return calls


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


REPORTS = ("/v1/reports/attribution", "/v1/reports/cohorts", "/v1/reports/retention")


def test_reports_take_the_brand_from_the_key_and_affiliates_see_their_own_rows(tmp_path, asked) -> None:
    app, ctx = service(tmp_path)
    _, admin = ctx.keys.create("admin")
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    _, analyst = ctx.keys.create("analyst", brand_id="brand-a")
    _, affiliate = ctx.keys.create("affiliate", affiliate_id="aff-1")
    with TestClient(app) as client:
        for path in REPORTS:
            for secret in (operator, analyst):
                r = client.get(path, headers=bearer(secret))
                assert r.status_code == 200, r.text
                assert asked.pop()[1]["brand_id"] == "brand-a"
                assert {row["affiliate_id"] for row in r.json()} == {"aff-1", "aff-2"}
            r = client.get(path, params={"brand_id": "brand-b"}, headers=bearer(analyst))
            assert r.status_code == 403 and "brand-a" in r.json()["detail"]
            r = client.get(path, params={"brand_id": "brand-b"}, headers=bearer(admin))
            assert r.status_code == 200 and asked.pop()[1]["brand_id"] == "brand-b"
            r = client.get(path, headers=bearer(affiliate))
            assert r.status_code == 200 and [row["affiliate_id"] for row in r.json()] == ["aff-1"]
            asked.pop()
            assert client.get(path).status_code == 401
    assert asked == []  # the refused ones never reached ClickHouse


def test_attribution_parameters_reach_the_query(tmp_path, asked) -> None:
    app, ctx = service(tmp_path)
    _, analyst = ctx.keys.create("analyst", brand_id="brand-a")
    with TestClient(app) as client:
        r = client.get("/v1/reports/attribution", headers=bearer(analyst))
        assert r.status_code == 200
        _, defaults = asked.pop()
        assert defaults["models"] == MODELS and defaults["conversion"] == "registration"
        assert (defaults["value"], defaults["by"], defaults["lookback_days"]) == ("ngr", "affiliate", 30)
        r = client.get(
            "/v1/reports/attribution",
            headers=bearer(analyst),
            params={
                "model": "markov,first",
                "conversion": "ftd",
                "value": "deposits",
                "by": "campaign",
                "half_life_days": "3.5",
                "position_first": "0.3",
                "position_last": "0.5",
                "lookback_days": "14",
                "since": "2026-01-01",
                "until": "2026-01-31",
            },
        )
        assert r.status_code == 200, r.text
        _, given = asked.pop()
    assert given["models"] == ("markov", "first")
    assert (given["conversion"], given["value"], given["by"]) == ("ftd", "deposits", "campaign")
    assert given["half_life_days"] == 3.5 and given["lookback_days"] == 14
    assert (given["position_first"], given["position_last"]) == (Decimal("0.3"), Decimal("0.5"))
    assert str(given["since"]) == "2026-01-01" and str(given["until"]) == "2026-01-31"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/reports/attribution", {"model": "lastest"}, "model"),
        ("/v1/reports/attribution", {"model": ","}, "model"),
        ("/v1/reports/attribution", {"conversion": "deposit"}, "conversion"),
        ("/v1/reports/attribution", {"value": "ggr"}, "value"),
        ("/v1/reports/attribution", {"by": "brand"}, "by"),
        ("/v1/reports/attribution", {"half_life_days": "0"}, "half_life_days"),
        ("/v1/reports/attribution", {"position_first": "0.7", "position_last": "0.4"}, "position_last"),
        ("/v1/reports/attribution", {"position_first": "x"}, "position_first"),
        ("/v1/reports/attribution", {"lookback_days": "0"}, "lookback_days"),
        ("/v1/reports/attribution", {"since": "2026-02-01", "until": "2026-01-01"}, "until"),
        ("/v1/reports/cohorts", {"grain": "day"}, "grain"),
        ("/v1/reports/cohorts", {"since": "yesterday"}, "since"),
        ("/v1/reports/retention", {"periods": "0"}, "periods"),
        ("/v1/reports/retention", {"periods": "1000"}, "periods"),
    ],
)
def test_bad_parameters_are_4xx_naming_the_field(tmp_path, asked, path, params, field) -> None:
    app, ctx = service(tmp_path)
    _, analyst = ctx.keys.create("analyst", brand_id="brand-a")
    with TestClient(app) as client:
        r = client.get(path, params=params, headers=bearer(analyst))
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["detail"]] == [["query", field]]
    assert asked == []


def test_a_clickhouse_failure_is_a_503_without_its_words(tmp_path, monkeypatch) -> None:
    app, ctx = service(tmp_path)
    _, admin = ctx.keys.create("admin")

    def unreachable(*_args, **_filters):
        raise OSError("cannot connect to http://clickpath:s3cret@clickhouse:8123 (refused)")

    for name in ("attribution_rows", "cohort_rows", "retention_rows", "analyst_query"):
        monkeypatch.setattr(analyst_routes, name, unreachable)
    with TestClient(app, raise_server_exceptions=False) as client:
        answers = [client.get(path, headers=bearer(admin)) for path in REPORTS]
        answers.append(client.post("/v1/sql", json={"query": "SELECT 1"}, headers=bearer(admin)))
    for r in answers:
        assert r.status_code == 503
        assert "s3cret" not in r.text and "clickhouse:8123" not in r.text and "refused" not in r.text


def test_sql_is_for_analyst_and_admin_keys_in_the_keys_brand(tmp_path, asked) -> None:
    app, ctx = service(tmp_path)
    _, admin = ctx.keys.create("admin")
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    analyst_key, analyst = ctx.keys.create("analyst", brand_id="brand-a")
    _, affiliate = ctx.keys.create("affiliate", affiliate_id="aff-1")
    body = {"query": "SELECT count() AS n FROM players"}
    with TestClient(app) as client:
        assert client.post("/v1/sql", json=body).status_code == 401
        for secret in (operator, affiliate):
            r = client.post("/v1/sql", json=body, headers=bearer(secret))
            assert r.status_code == 403 and "analyst" in r.json()["detail"]
        r = client.post("/v1/sql", json=body, headers=bearer(analyst))
        assert r.status_code == 200 and r.json() == ANSWER
        # the key's id goes along: the sink holds a slot per key too (review 21 item 3)
        assert asked.pop() == (
            "sql", {"query": body["query"], "brand_id": "brand-a", "key_id": analyst_key.key_id}
        )
        r = client.post("/v1/sql", json={**body, "brand_id": "brand-b"}, headers=bearer(analyst))
        assert r.status_code == 403
        r = client.post("/v1/sql", json=body, headers=bearer(admin))
        assert r.status_code == 200 and asked.pop()[1]["brand_id"] is None
        r = client.post("/v1/sql", json={**body, "brand_id": "brand-b"}, headers=bearer(admin))
        assert r.status_code == 200 and asked.pop()[1]["brand_id"] == "brand-b"
    assert asked == []


def test_a_refused_query_is_a_400_saying_why_and_a_huge_one_422(tmp_path, monkeypatch) -> None:
    app, ctx = service(tmp_path)
    _, analyst = ctx.keys.create("analyst", brand_id="brand-a")

    def refuse(_settings, query, _brand, key_id=None):
        raise QueryRefused("table 'events' is not one of the analyst views: players")

    monkeypatch.setattr(analyst_routes, "analyst_query", refuse)
    with TestClient(app) as client:
        r = client.post("/v1/sql", json={"query": "SELECT * FROM events"}, headers=bearer(analyst))
        assert r.status_code == 400
        assert r.json()["detail"] == "table 'events' is not one of the analyst views: players"
        r = client.post("/v1/sql", json={"query": "SELECT 1" + " " * 20_000}, headers=bearer(analyst))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "query"]
        r = client.post("/v1/sql", json={"query": ""}, headers=bearer(analyst))
        assert r.status_code == 422


def test_one_analytics_report_runs_at_a_time_the_next_is_429(tmp_path, monkeypatch) -> None:
    """A report over a million paths is long: while one runs, another caller is told to come
    back (429 with Retry-After) instead of queueing work behind it; once it ends, it may."""
    import threading

    app, ctx = service(tmp_path)
    _, analyst = ctx.keys.create("analyst", brand_id="brand-a")
    started, release = threading.Event(), threading.Event()

    def slow(_settings, **_filters):
        started.set()
        assert release.wait(10)
        return [dict(r) for r in COHORTS]

    monkeypatch.setattr(analyst_routes, "cohort_rows", slow)
    with TestClient(app) as client:
        first: list[Any] = []
        runner = threading.Thread(
            target=lambda: first.append(client.get("/v1/reports/cohorts", headers=bearer(analyst)))
        )
        runner.start()
        assert started.wait(10)
        busy = client.get("/v1/reports/attribution", headers=bearer(analyst))
        release.set()
        runner.join(10)
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "10"
        assert first[0].status_code == 200
        assert client.get("/v1/reports/cohorts", headers=bearer(analyst)).status_code == 200
