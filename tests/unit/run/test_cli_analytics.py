"""`clickpath report attribution|cohorts|retention` and `clickpath sql`: the arguments, the way
through the running service (embedded ClickHouse, the host's CLI key) and straight to a
ClickHouse server; plain `clickpath report` stays the funnel."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest

from clickpath.connectors import analyst_routes
from clickpath.domain.multitouch import MODELS, Credit, Path
from clickpath.infra import reports
from clickpath.infra.analyst_sql import QueryRefused
from clickpath.run.cli import build_parser
from clickpath.run.commands_data import cmd_report, cmd_sql
from clickpath.run.errors import CommandError
from tests.integration.harness import ServedApp
from tests.unit.connectors.http_support import service

ROWS = [
    {
        "model": "linear",
        "affiliate_id": "aff-1",
        "conversion": "ftd",
        "conversions": "0.5",
        "value": {"EUR": "5.00"},
    }
]


def parse(*argv: str) -> Any:
    return build_parser().parse_args(list(argv))


def test_report_without_a_kind_is_the_funnel_with_todays_flags() -> None:
    args = parse("report", "--format", "json", "--brand", "b", "--since", "2026-01-01")
    assert (args.kind, args.format, args.brand, str(args.since)) == ("funnel", "json", "b", "2026-01-01")
    assert parse("report", "funnel").kind == "funnel"
    assert args.func is cmd_report


def test_report_attribution_arguments() -> None:
    args = parse(
        "report",
        "attribution",
        "--model",
        "time_decay",
        "--conversion",
        "ftd",
        "--value",
        "deposits",
        "--by",
        "campaign",
        "--half-life-days",
        "2.5",
        "--position-first",
        "0.3",
        "--position-last",
        "0.3",
        "--lookback-days",
        "14",
        "--format",
        "csv",
    )
    assert (args.kind, args.model, args.conversion, args.value, args.by) == (
        "attribution",
        "time_decay",
        "ftd",
        "deposits",
        "campaign",
    )
    assert args.half_life_days == 2.5 and args.position_first == Decimal("0.3")
    assert args.lookback_days == 14
    for bad in (
        ["--model", "u_shaped"],
        ["--conversion", "deposit"],
        ["--by", "brand"],
        ["--position-first", "forty"],
        ["--grain", "day"],
    ):
        with pytest.raises(SystemExit):
            parse("report", "attribution", *bad)
    assert parse("report", "attribution", "--model", "all").model == "all"
    assert parse("report", "retention", "--grain", "week", "--periods", "6").periods == 6


@pytest.mark.parametrize(
    "argv",
    [
        ("report", "--model", "first"),  # a funnel has no model
        ("report", "funnel", "--grain", "week"),
        ("report", "cohorts", "--periods", "3"),
        ("report", "cohorts", "--by", "campaign"),
        ("report", "retention", "--model", "markov"),
        ("report", "attribution", "--grain", "month"),
        ("report", "attribution", "--position-first", "0.7", "--position-last", "0.4"),
        ("report", "attribution", "--half-life-days", "0"),
        ("report", "retention", "--periods", "0"),
        ("report", "attribution", "--currency", "EUR"),  # the funnel's
        ("report", "--layout", "wide"),  # attribution's
        ("report", "--currency", "EUR", "--format", "json"),  # JSON has every currency
    ],
)
def test_flags_of_another_report_or_out_of_range_are_refused(tmp_path, argv) -> None:
    _, ctx = service(tmp_path)
    with pytest.raises(CommandError):
        cmd_report(ctx.settings, parse(*argv))


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The HTTP service on a loopback port; its reports answer canned rows and record what
    they were asked. Yields (settings pointing at it, the calls)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def attribution_rows(_settings, **filters):
        calls.append(("attribution", filters))
        return [dict(r) for r in ROWS]

    def retention_rows(_settings, **filters):
        calls.append(("retention", filters))
        return [
            {
                "brand_id": "b",
                "affiliate_id": "aff-1",
                "campaign_id": "c",
                "cohort": "2026-01-05",
                "players": 2,
                "active": [2, 1],
                "retention": [1.0, 0.5],
            }
        ]

    def analyst_query(_settings, query, brand_id, key_id=None):
        calls.append(("sql", {"query": query, "brand_id": brand_id}))
        if "events" in query:
            raise QueryRefused("table 'events' is not one of the analyst views: players")
        return {"columns": ["n"], "types": ["UInt64"], "rows": [[3]], "truncated": False}

    monkeypatch.setattr(analyst_routes, "attribution_rows", attribution_rows)
    monkeypatch.setattr(analyst_routes, "retention_rows", retention_rows)
    monkeypatch.setattr(analyst_routes, "analyst_query", analyst_query)
    app, ctx = service(tmp_path)
    with ServedApp(app) as server:
        yield ctx.settings.with_overrides(http_port=server.port), calls


def test_report_attribution_through_the_service(served, capsys) -> None:
    settings, calls = served
    cmd_report(settings, parse("report", "attribution", "--format", "json"))
    assert json.loads(capsys.readouterr().out) == ROWS
    _, asked = calls.pop()
    assert asked["models"] == MODELS and asked["brand_id"] is None  # the CLI key is admin
    cmd_report(
        settings,
        parse(
            "report",
            "attribution",
            "--model",
            "linear",
            "--by",
            "campaign",
            "--position-first",
            "0.25",
            "--brand",
            "b",
            "--format",
            "csv",
        ),
    )
    assert capsys.readouterr().out.splitlines()[0] == ("model,affiliate_id,conversion,conversions,value_EUR")
    _, asked = calls.pop()
    assert (asked["models"], asked["by"], asked["brand_id"]) == (("linear",), "campaign", "b")
    assert asked["position_first"] == Decimal("0.25")
    cmd_report(settings, parse("report", "attribution", "--layout", "wide", "--format", "csv"))
    assert capsys.readouterr().out.splitlines() == [
        "affiliate_id,conversion,currency,linear_conversions,linear_value", "aff-1,ftd,EUR,0.5,5.00"]


def test_report_retention_through_the_service(served, capsys) -> None:
    settings, calls = served
    cmd_report(settings, parse("report", "retention", "--grain", "week", "--periods", "2", "--format", "csv"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("active_0,active_1,retention_0,retention_1")
    assert calls.pop() == (
        "retention",
        {"brand_id": None, "grain": "week", "periods": 2, "since": None, "until": None},
    )


def test_clickpath_sql_through_the_service(served, capsys) -> None:
    settings, calls = served
    cmd_sql(settings, parse("sql", "SELECT count() AS n FROM players", "--format", "csv"))
    assert capsys.readouterr().out.splitlines() == ["n", "3"]
    assert calls.pop() == ("sql", {"query": "SELECT count() AS n FROM players", "brand_id": None})
    with pytest.raises(CommandError, match="'events' is not one of the analyst views"):
        cmd_sql(settings, parse("sql", "SELECT * FROM events"))


class FakeClient:
    closed = False

    def close(self) -> None:
        self.closed = True


def test_against_a_clickhouse_server_the_cli_queries_it_directly(tmp_path, monkeypatch, capsys):
    """No service in between: the paths are read and the models run in the CLI's process."""
    _, ctx = service(tmp_path, clickhouse_url="http://127.0.0.1:9")
    client = FakeClient()
    asked: dict[str, Any] = {}
    path = Path(("aff-1", "aff-2"), (86400.0, 60.0), True, {"EUR": Decimal("10")})

    def query_paths(c, db, **filters):
        asked.update(filters, client=c, db=db)
        return [path]

    def attribute(paths, models, params):
        asked.update(paths=list(paths), models=models, params=params)
        return [Credit(m, "aff-2", Decimal(1), {"EUR": Decimal("10")}) for m in models]

    monkeypatch.setattr(reports, "connect", lambda _settings: client)
    monkeypatch.setattr(reports, "query_paths", query_paths)
    monkeypatch.setattr(reports, "attribute", attribute)
    cmd_report(
        ctx.settings,
        parse(
            "report",
            "attribution",
            "--model",
            "shapley",
            "--conversion",
            "ftd",
            "--half-life-days",
            "3",
            "--format",
            "csv",
        ),
    )
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert table == [
        ["model", "affiliate_id", "conversion", "conversions", "value_EUR"],
        ["shapley", "aff-2", "ftd", "1", "10"],
    ]
    assert asked["client"] is client and client.closed and asked["db"] == "clickpath"
    assert (asked["conversion"], asked["by"], asked["value"]) == ("ftd", "affiliate", "ngr")
    assert asked["paths"] == [path] and asked["models"] == ("shapley",)
    assert asked["params"].half_life_days == 3.0
    assert asked["params"].position_first == Decimal("0.4")
    assert asked["lookback_days"] == ctx.settings.attribution_lookback_days
