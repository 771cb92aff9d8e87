"""The embedded path: with chdb only the ClickHouse sink may open the engine, so the service
(and the CLI) ask its loopback report app. What goes over the wire must come back the same:
models, decimal parameters, rows, and a refused query's reason (a 400, not a failure)."""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from clickpath.infra import reports
from clickpath.infra.analyst_sql import QueryRefused
from clickpath.settings import Settings
from clickpath.sinks.clickhouse.reports import report_app
from tests.integration.harness import ServedApp

ROW = {
    "model": "markov",
    "affiliate_id": "aff-1",
    "conversion": "ftd",
    "conversions": "0.75",
    "value": {"EUR": "7.50"},
}


class RecordingSink:
    """Stands in for the sink's ReportReader: records the arguments, answers rows."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def attribution(self, **filters: Any) -> list[dict[str, Any]]:
        self.calls.append(("attribution", filters))
        return [ROW]

    def cohorts(self, **filters: Any) -> list[dict[str, Any]]:
        self.calls.append(("cohorts", filters))
        return [{"cohort": "2026-01-01", "ngr_30": "1.10"}]

    def retention(self, **filters: Any) -> list[dict[str, Any]]:
        self.calls.append(("retention", filters))
        return [{"cohort": "2026-01-01", "active": [3, 1], "retention": [1.0, 0.3333]}]

    def ledger(self, **filters: Any) -> list[dict[str, Any]]:
        self.calls.append(("ledger", filters))
        return [{"entry_id": "le-1", "amount": "125.00", "caused_by": ["e1"]}]

    def statements(self, **filters: Any) -> list[dict[str, Any]]:
        self.calls.append(("statements", filters))
        return [{"affiliate_id": "aff-1", "total": "125.00"}]

    def sql(self, query: str, brand_id: str | None, key_id: str | None = None) -> dict[str, Any]:
        self.calls.append(("sql", {"query": query, "brand_id": brand_id, "key_id": key_id}))
        if "events" in query:
            raise QueryRefused("table 'events' is not one of the analyst views: players")
        return {"columns": ["x"], "types": ["String"], "rows": [["y"]], "truncated": False}


TOKEN = "q" * 43


@pytest.fixture
def sink_and_settings(tmp_path):
    sink = RecordingSink()
    with ServedApp(report_app(sink, TOKEN)) as served:  # type: ignore[arg-type]
        yield sink, Settings(data_dir=tmp_path, pseudonym_key="k", reports_url=served.url,
                             reports_token=SecretStr(TOKEN))


def test_attribution_over_the_loopback(sink_and_settings) -> None:
    sink, settings = sink_and_settings
    assert settings.clickhouse_embedded
    rows = reports.attribution_rows(
        settings,
        brand_id="brand-a",
        models=("markov", "first"),
        conversion="ftd",
        value="deposits",
        by="campaign",
        since=date(2026, 1, 1),
        until=None,
        lookback_days=14,
        half_life_days=2.5,
        position_first=Decimal("0.25"),
        position_last=Decimal("0.5"),
    )
    assert rows == [ROW]
    assert sink.calls == [
        (
            "attribution",
            {
                "brand_id": "brand-a",
                "models": ("markov", "first"),
                "conversion": "ftd",
                "value": "deposits",
                "by": "campaign",
                "since": date(2026, 1, 1),
                "until": None,
                "lookback_days": 14,
                "half_life_days": 2.5,
                "position_first": Decimal("0.25"),
                "position_last": Decimal("0.5"),
            },
        )
    ]


def test_cohorts_and_retention_over_the_loopback(sink_and_settings) -> None:
    sink, settings = sink_and_settings
    assert reports.cohort_rows(settings, brand_id=None, grain="week", since=None, until=date(2026, 3, 1)) == [
        {"cohort": "2026-01-01", "ngr_30": "1.10"}
    ]
    assert reports.retention_rows(settings, brand_id="b", grain="month", periods=2, since=None, until=None)[
        0
    ]["retention"] == [1.0, 0.3333]
    assert sink.calls == [
        ("cohorts", {"brand_id": None, "grain": "week", "since": None, "until": date(2026, 3, 1)}),
        ("retention", {"brand_id": "b", "grain": "month", "periods": 2, "since": None, "until": None}),
    ]


def test_sql_over_the_loopback_and_its_refusals(sink_and_settings) -> None:
    sink, settings = sink_and_settings
    answer = reports.analyst_query(settings, "SELECT x FROM players", "brand-a", "key-1")
    assert answer["rows"] == [["y"]]
    with pytest.raises(QueryRefused, match="'events' is not one of the analyst views"):
        reports.analyst_query(settings, "SELECT * FROM events", None)
    assert sink.calls == [
        ("sql", {"query": "SELECT x FROM players", "brand_id": "brand-a", "key_id": "key-1"}),
        ("sql", {"query": "SELECT * FROM events", "brand_id": None, "key_id": None}),
    ]


def test_a_sink_that_fails_is_an_error_not_an_answer(tmp_path) -> None:
    class Broken(RecordingSink):
        def attribution(self, **filters: Any) -> list[dict[str, Any]]:
            raise RuntimeError("Code: 210. chdb:///secret/dir")

    with ServedApp(report_app(Broken(), TOKEN)) as served:  # type: ignore[arg-type]
        settings = Settings(data_dir=tmp_path, pseudonym_key="k", reports_url=served.url,
                            reports_token=SecretStr(TOKEN))
        with pytest.raises(httpx.HTTPStatusError):
            reports.attribution_rows(
                settings,
                brand_id=None,
                models=("last",),
                conversion="registration",
                value="ngr",
                by="affiliate",
                since=None,
                until=None,
                lookback_days=30,
                half_life_days=7.0,
                position_first=Decimal("0.4"),
                position_last=Decimal("0.4"),
            )


def test_the_loopback_app_asks_for_the_runs_token_and_a_loopback_host(tmp_path) -> None:
    """Issue 21 item 26: a page in a browser reaching 127.0.0.1 by DNS rebinding sends its own
    Host and no token; the service, with the run's token from `up`, is answered."""
    token = "s" * 43
    with ServedApp(report_app(RecordingSink(), token)) as served:  # type: ignore[arg-type]
        settings = Settings(data_dir=tmp_path, pseudonym_key="k", reports_url=served.url,
                            reports_token=SecretStr(token))
        assert reports.analyst_query(settings, "SELECT x FROM players", None)["rows"] == [["y"]]
        anonymous = settings.with_overrides(reports_token=None)
        with pytest.raises(httpx.HTTPStatusError) as refused:
            reports.analyst_query(anonymous, "SELECT x FROM players", None)
        assert refused.value.response.status_code == 401
        rebound = httpx.get(
            f"{served.url}/reports/stats",
            headers={"Host": f"rebind.attacker.example:{served.port}",
                     reports.REPORTS_TOKEN_HEADER: token},
        )
        assert rebound.status_code == 421
        assert httpx.get(f"{served.url}/docs").status_code in (401, 404)
    assert "s" * 43 not in repr(settings) and "s" * 43 not in str(settings.model_dump())


def test_the_report_endpoint_is_never_served_without_a_token(tmp_path) -> None:
    """Review 21 item 12: Host alone would let any local user read every brand's reports and
    SQL from a `clickpath sink clickhouse` run outside `up`."""
    from clickpath.run.commands_roles import cmd_sink
    from clickpath.run.errors import CommandError
    from clickpath.sinks.clickhouse.reports import report_token

    for token in (None, ""):
        with pytest.raises(ValueError, match="without a reports token"):
            report_app(RecordingSink(), token)  # type: ignore[arg-type]
    alone = Settings(data_dir=tmp_path, pseudonym_key="k" * 40, master_key="m" * 40,
                     reports_url="http://127.0.0.1:9")
    assert alone.clickhouse_embedded
    for settings in (alone, alone.with_overrides(reports_token=SecretStr(""))):
        with pytest.raises(ValueError, match="CLICKPATH_REPORTS_TOKEN is not"):
            report_token(settings)
    with pytest.raises(CommandError, match="will not start: .*CLICKPATH_REPORTS_TOKEN"):
        cmd_sink(alone, argparse.Namespace(kind="clickhouse"))  # before the engine opens
    assert not (tmp_path / "clickhouse").exists()
    assert report_token(alone.with_overrides(reports_token=SecretStr(TOKEN))) == TOKEN
    assert report_token(alone.with_overrides(reports_url=None)) is None  # no endpoint asked


def test_the_ledger_and_statements_over_the_loopback(sink_and_settings) -> None:
    from datetime import UTC, datetime

    sink, settings = sink_and_settings
    as_of = datetime(2026, 11, 30, 23, 59, 59, 999000, UTC)
    assert reports.ledger_entries(settings, affiliate_id="aff-1", period="2026-11", as_of=as_of) == [
        {"entry_id": "le-1", "amount": "125.00", "caused_by": ["e1"]}]
    assert reports.statement_rows(settings, period="2026-11", as_of=as_of) == [
        {"affiliate_id": "aff-1", "total": "125.00"}]
    assert sink.calls == [
        ("ledger", {"affiliate_id": "aff-1", "period": "2026-11", "as_of": as_of,
                    "for_affiliate": False}),
        ("statements", {"period": "2026-11", "as_of": as_of}),
    ]
