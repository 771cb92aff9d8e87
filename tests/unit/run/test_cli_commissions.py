"""`clickpath ledger` and `clickpath statements`: the arguments (a bad period or time named),
the way through the running service (embedded ClickHouse, the host's CLI key) in the three
formats, and `--as-of` reaching the read."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clickpath.connectors import ledger_routes
from clickpath.domain.commissions.statements import entry_json, ledger, statements
from clickpath.run.cli import build_parser
from clickpath.run.commands_data import cmd_ledger, cmd_statements
from tests.integration.harness import ServedApp
from tests.unit.connectors.http_support import service
from tests.unit.domain.test_statements import ENTRIES, T0


def parse(*argv: str) -> Any:
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize(("argv", "named"), [
    (["statements", "--period", "2026-13"], "argument --period: '2026-13' is not a period"),
    (["ledger", "--affiliate", "a", "--period", "11/2026"], "argument --period:"),
    (["statements", "--period", "2026-11", "--as-of", "soon"], "argument --as-of: 'soon' is not a time"),
])
def test_a_bad_period_or_time_is_named(argv, named, capsys) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)
    assert named in capsys.readouterr().err


@pytest.fixture
def served(tmp_path, monkeypatch):
    calls: list[dict[str, Any]] = []

    def ledger_entries(_settings, **filters):
        calls.append(filters)
        return [entry_json(e) for e in ledger(ENTRIES, filters["affiliate_id"], filters["period"],
                                              filters["as_of"])]

    def statement_rows(_settings, **filters):
        calls.append(filters)
        return [r.as_json() for r in statements(ENTRIES, filters["period"], filters["as_of"])]

    monkeypatch.setattr(ledger_routes, "ledger_entries", ledger_entries)
    monkeypatch.setattr(ledger_routes, "statement_rows", statement_rows)
    app, ctx = service(tmp_path)
    with ServedApp(app) as server:
        yield ctx.settings.with_overrides(http_port=server.port), calls


def test_statements_through_the_service_in_three_formats(served, capsys) -> None:
    settings, calls = served
    cmd_statements(settings, parse("statements", "--period", "2026-11", "--format", "json"))
    rows = json.loads(capsys.readouterr().out)
    assert [(r["affiliate_id"], r["currency"], r["total"], r["entries"]) for r in rows] == [
        ("aff-1", "EUR", "106.15", 8), ("aff-1", "USD", "30.00", 1), ("aff-2", "EUR", "40.00", 1)]
    assert abs(calls.pop()["as_of"] - datetime.now(UTC)) < timedelta(minutes=1)  # default: now
    cmd_statements(settings, parse("statements", "--period", "2026-11", "--as-of",
                                   "2026-11-03T09:30:00Z", "--format", "csv"))
    parsed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["affiliate_id"], r["total"], r["as_of"]) for r in parsed] == [
        ("aff-1", "100.00", "2026-11-03T09:30:00Z")]
    assert calls.pop()["as_of"] == T0 + timedelta(minutes=30)
    cmd_statements(settings, parse("statements", "--period", "2026-11"))
    assert "106.15" in capsys.readouterr().out


def test_the_ledger_through_the_service_in_three_formats(served, capsys) -> None:
    settings, calls = served
    argv = ("ledger", "--affiliate", "aff-1", "--period", "2026-11", "--as-of", "2026-11-03")
    cmd_ledger(settings, parse(*argv, "--format", "json"))
    entries = json.loads(capsys.readouterr().out)
    assert [(e["entry_id"], e["amount"], e["kind"], e["plan_id"], e["caused_by"]) for e in entries][:2] == [
        ("c1", "100.00", "accrual", "plan-1", ["ev-c1"]), ("c2", "100.00", "accrual", "plan-1", ["ev-c2"])]
    assert calls.pop() == {"affiliate_id": "aff-1", "period": "2026-11",
                           "as_of": datetime(2026, 11, 3, 23, 59, 59, 999000, UTC),
                           "for_affiliate": False}
    cmd_ledger(settings, parse(*argv, "--format", "csv"))
    assert [r["entry_id"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))] == [
        "c1", "c2", "c3", "u1", "r1", "r2", "k1", "s1", "co"]
    cmd_ledger(settings, parse(*argv))
    assert "-100.00" in capsys.readouterr().out
