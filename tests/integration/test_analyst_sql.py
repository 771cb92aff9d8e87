"""Analyst SQL in real ClickHouse (embedded chdb, migrated by clickpath's migrations): an analyst
key reads its own brand only, whatever the query says; the route goes through the ClickHouse
sink that owns the engine; and ClickHouse itself refuses writes, table functions and setting
changes on the analyst client (defence in depth), without touching the sink's session.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.infra.analyst_run import SqlLimits, analyst_client, answer
from clickpath.infra.analyst_sql import QueryRefused
from clickpath.infra.clickhouse import apply_migrations, connect
from clickpath.settings import Settings
from clickpath.sinks.clickhouse.reports import ReportReader, report_app
from clickpath.sinks.clickhouse.writer import ClickHouseSink, write_batch
from tests.integration.harness import ServedApp
from tests.integration.test_clickhouse_players import money, profile
from tests.unit.connectors.http_support import AckingProducer

DB = "clickpath"
PLAYERS = [
    profile("p1", 2),
    profile("p2", 3, affiliate_id="aff-2"),
    profile("p3", 1, brand_id="brand-b", person_id="brand-b:p3", money=[money("GBP", "500", "100")]),
]


@pytest.fixture
def chdb(tmp_path):
    """Settings for an embedded ClickHouse migrated by clickpath, holding two brands' players,
    and the writer's client (the sink's, in production)."""
    settings = Settings(
        clickhouse_url=f"chdb://{tmp_path / 'ch'}",
        clickhouse_database=DB,
        data_dir=tmp_path / "data",
        pseudonym_key="k",
    )
    client = connect(settings)
    apply_migrations(client, DB)
    write_batch(client, DB, PLAYERS)
    yield settings, client
    client.close()


def test_an_analyst_reads_only_its_brand_whatever_the_query_says(chdb) -> None:
    settings, _ = chdb
    by_brand = "SELECT brand_id, count() AS n FROM players GROUP BY brand_id ORDER BY brand_id"
    assert answer(settings, by_brand, None)["rows"] == [["brand-a", 2], ["brand-b", 1]]
    assert answer(settings, by_brand, "brand-a")["rows"] == [["brand-a", 2]]
    for query, want in [
        ("SELECT count() FROM players WHERE brand_id = 'brand-b'", [[0]]),
        (
            "SELECT count() FROM clickpath.players AS p JOIN players_money m ON p.person_id = m.person_id",
            [[2]],
        ),
        (
            "SELECT count() FROM (SELECT person_id FROM players UNION ALL "
            "SELECT person_id FROM players_money)",
            [[4]],
        ),
        (
            "WITH players AS (SELECT * FROM players WHERE deposits > 2) "
            "SELECT groupArray(person_id) FROM players",
            [[["brand-a:p2"]]],
        ),
        ("SELECT currency, toString(sum(ngr)) FROM players_money GROUP BY currency", [["EUR", "3"]]),
    ]:
        result = answer(settings, query, "brand-a")
        if query.startswith("SELECT currency"):  # brand-b's GBP is not there
            assert [r[0] for r in result["rows"]] == ["EUR"], query
        else:
            assert result["rows"] == want, query
        assert result["truncated"] is False


def test_answers_are_json_and_limited(chdb) -> None:
    settings, _ = chdb
    result = answer(
        settings,
        "SELECT person_id, registered_at, ngr FROM players ORDER BY person_id",
        "brand-a",
        SqlLimits(max_rows=1),
    )
    assert result["columns"] == ["person_id", "registered_at", "ngr"]
    assert result["truncated"] is True and len(result["rows"]) == 1
    person, registered, ngr = result["rows"][0]
    assert person == "brand-a:p1" and registered.startswith("2026-11-01T12:00")
    assert set(ngr) == {"EUR"} and isinstance(ngr["EUR"], str)  # Decimal as a string


def test_an_empty_answer_still_names_its_columns(chdb) -> None:
    settings, _ = chdb
    result = answer(settings, "SELECT person_id, ngr FROM players", "brand-c")
    assert result == {
        "columns": ["person_id", "ngr"],
        "types": ["String", "Map(String, Decimal(20, 4))"],
        "rows": [],
        "truncated": False,
        "truncated_reason": None,
    }


def test_clickhouse_refusals_are_short_and_name_no_path(chdb, tmp_path) -> None:
    settings, _ = chdb
    with pytest.raises(QueryRefused) as refused:
        answer(settings, "SELECT no_such_column FROM players", "brand-a")
    assert "UNKNOWN_IDENTIFIER" in str(refused.value)
    assert str(tmp_path) not in str(refused.value) and "chdb" not in str(refused.value)
    with pytest.raises(QueryRefused, match="not one of the analyst views"):
        answer(settings, "SELECT * FROM clickpath.events", None)


def test_the_analyst_client_is_read_only_and_the_writers_is_not(chdb) -> None:
    """Behind the guard, ClickHouse refuses on the analyst client what the guard refuses; the
    sink's own session, on the same engine, still writes (chdb keeps SETTINGS per session)."""
    settings, writer = chdb
    analyst = analyst_client(settings)
    try:
        for sql in (
            f"INSERT INTO {DB}.schema_migrations (version) VALUES ('x')",
            f"CREATE TABLE {DB}.x (a Int8) ENGINE = Memory",
            f"DROP TABLE {DB}.players",
            "SELECT * FROM file('/etc/passwd', 'LineAsString')",
            "SELECT * FROM url('http://127.0.0.1:9/', 'CSV', 'a String')",
            "SELECT 1 SETTINGS readonly = 0",
            "SELECT 1 SETTINGS max_result_rows = 0",
        ):
            with pytest.raises(Exception, match="READONLY|readonly"):
                analyst.query(sql)
        # Why the guard refuses `IN (name)`: ClickHouse reads the name as a table (here one of
        # two columns), read-only or not; only the guard keeps it to the views.
        with pytest.raises(Exception, match="NUMBER_OF_COLUMNS_DOESNT_MATCH"):
            analyst.query(f"SELECT 'x' IN ({DB}.schema_migrations)")
        limits = analyst.query("SELECT getSetting('readonly'), getSetting('max_execution_time')")
        assert limits.result_rows == [(1, 10.0)]
    finally:
        analyst.close()
    writer.command(f"INSERT INTO {DB}.schema_migrations (version) VALUES ('still-writable')")
    assert writer.query("SELECT getSetting('readonly')").result_rows == [(0,)]


def test_the_sql_route_end_to_end_through_the_sink(settings) -> None:
    """POST /v1/sql on the service, which asks the ClickHouse sink's loopback app (the one
    process that may open the embedded engine), which runs the checked query read-only."""
    sink = ClickHouseSink(settings)  # applies the migrations
    reports = ReportReader(settings)
    try:
        write_batch(sink.client, sink.db, PLAYERS)
        token = settings.reports_token.get_secret_value()
        with ServedApp(report_app(reports, token)) as served:
            service_settings = settings.with_overrides(reports_url=served.url)
            ctx = IngressContext.from_settings(service_settings)
            ctx._producer = AckingProducer()  # type: ignore[assignment]
            _, analyst = ctx.keys.create("analyst", brand_id="brand-b")
            _, operator = ctx.keys.create("operator", brand_id="brand-b")
            headers = {"Authorization": f"Bearer {analyst}"}
            with TestClient(create_service(service_settings, ctx)) as client:
                r = client.post(
                    "/v1/sql",
                    headers=headers,
                    json={"query": "SELECT person_id, mapKeys(ngr) FROM players ORDER BY person_id"},
                )
                assert r.status_code == 200, r.text
                assert r.json()["rows"] == [["brand-b:p3", ["GBP"]]]
                for query in (
                    "SELECT * FROM events",
                    "SELECT * FROM system.tables",
                    "SELECT 1; DROP TABLE clickpath.players",
                    "SELECT * FROM file('/etc/passwd')",
                    "SELECT count() FROM players WHERE person_id IN (clickpath.events)",
                ):
                    r = client.post("/v1/sql", headers=headers, json={"query": query})
                    assert r.status_code == 400, (query, r.text)
                    assert "chdb" not in r.text and "clickhouse" not in r.text.lower()
                r = client.post("/v1/sql", headers=headers, json={"query": "SELECT nope FROM players"})
                assert r.status_code == 400 and "UNKNOWN_IDENTIFIER" in r.json()["detail"]
                r = client.post(
                    "/v1/sql",
                    json={"query": "SELECT 1 FROM players"},
                    headers={"Authorization": f"Bearer {operator}"},
                )
                assert r.status_code == 403
            assert sink.client.query(f"SELECT count() FROM {DB}.players").result_rows == [(3,)]
    finally:
        reports.close()
        sink.close()
        sink._consumer.close()
