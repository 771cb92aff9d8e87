"""The commission ledger in real ClickHouse (embedded chdb, the shipped DDL): the sink writes
every LedgerEntry field, and a re-sent entry (same id, a later `recorded_at`) is read once, as
of its first recording, before and after a merge, without FINAL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickpath.contracts.models import LedgerEntry
from clickpath.settings import Settings
from clickpath.sinks.clickhouse.writer import write_batch

DB = "clickpath"
T0 = datetime(2026, 11, 5, 12, tzinfo=UTC)


def entry(entry_id: str, amount: str, *, minutes: int = 0, **changes: Any) -> LedgerEntry:
    fields: dict[str, Any] = dict(
        entry_id=entry_id, affiliate_id="aff-1", period="2026-11", kind="accrual",
        component="cpa", amount=Decimal(amount), currency="EUR",
        original_amount=Decimal(amount), original_currency="EUR", fx_rate=Decimal(1),
        plan_id="cpa-100", plan_version=1, player_token="tok-1", caused_by=["e1", "e2"],
        reason=None, occurred_at=T0, recorded_at=T0 + timedelta(minutes=minutes),
        registered_at=T0 - timedelta(days=2), player_brand_id="brand-a", player_campaign_id="camp",
    )
    return LedgerEntry(**{**fields, **changes})


def view(client) -> list[dict[str, Any]]:
    result = client.query(f"SELECT * FROM {DB}.ledger_entries ORDER BY entry_id")
    return [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]


def test_the_sink_writes_every_field_of_an_entry(client) -> None:
    e = entry("le-1", "-12.34", kind="clawback", reason="chargeback", player_token=None,
              registered_at=None, original_amount=Decimal("-13.5"), original_currency="USD",
              fx_rate=Decimal("0.914074"))
    assert write_batch(client, DB, [e]) == {"commission_ledger": 1}
    [row] = view(client)
    naive = {k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
             for k, v in e.model_dump().items()}
    assert {k: row[k] for k in naive} == naive
    assert row["amount"] == Decimal("-12.34") and row["caused_by"] == ["e1", "e2"]


def test_a_re_sent_entry_counts_once_as_of_its_first_recording_merged_or_not(client) -> None:
    write_batch(client, DB, [entry("le-1", "100.00"), entry("le-2", "7.50", minutes=1)])
    write_batch(client, DB, [entry("le-1", "100.00", minutes=30)])  # a replay, later
    write_batch(client, DB, [entry("le-2", "7.50", minutes=31), entry("le-2", "7.50", minutes=31)])

    def seen() -> list[tuple[str, Decimal, datetime]]:
        return [(r["entry_id"], r["amount"], r["recorded_at"]) for r in view(client)]

    before = seen()
    assert before == [("le-1", Decimal("100.00"), T0.replace(tzinfo=None)),
                      ("le-2", Decimal("7.50"), (T0 + timedelta(minutes=1)).replace(tzinfo=None))]
    client.command(f"OPTIMIZE TABLE {DB}.commission_ledger FINAL")
    stored = client.query(f"SELECT count() FROM {DB}.commission_ledger").result_rows[0][0]
    assert stored == 2 and seen() == before  # the merge kept each entry's earliest copy


def test_the_sql_statements_and_ledger_equal_the_pure_ones_as_of_any_time(client) -> None:
    from clickpath.domain.commissions.statements import entry_json, ledger, statements
    from clickpath.infra.ledger import query_ledger_entries, query_statements
    from tests.unit.domain.test_statements import ENTRIES

    write_batch(client, DB, ENTRIES[:8])
    write_batch(client, DB, ENTRIES[8:])  # the re-sent entry in a later batch
    for hours in (0, 1, 3, 24):
        as_of = ENTRIES[0].recorded_at + timedelta(hours=hours)
        assert query_statements(client, DB, period="2026-11", as_of=as_of) == [
            r.as_json() for r in statements(ENTRIES, "2026-11", as_of)]
        assert query_ledger_entries(client, DB, affiliate_id="aff-1", period="2026-11",
                                    as_of=as_of) == [
            entry_json(e) for e in ledger(ENTRIES, "aff-1", "2026-11", as_of)]
    [eur, *_] = query_statements(client, DB, period="2026-11", as_of=as_of)
    assert (eur["total"], eur["entries"]) == ("106.15", 8)


def test_against_a_clickhouse_server_the_cli_reads_it_directly(client, monkeypatch, capsys) -> None:
    import json

    from clickpath.infra import reports
    from clickpath.run.cli import build_parser
    from clickpath.run.commands_data import cmd_ledger, cmd_statements
    from tests.unit.domain.test_statements import ENTRIES

    write_batch(client, DB, ENTRIES)
    write_batch(client, DB, ENTRIES[:3])  # re-sent
    monkeypatch.setattr(reports, "connect", lambda _settings: _Unclosed(client))
    settings = Settings(clickhouse_url="http://127.0.0.1:9", clickhouse_database=DB)
    parse = build_parser().parse_args
    cmd_statements(settings, parse(["statements", "--period", "2026-11", "--format", "json"]))
    rows = json.loads(capsys.readouterr().out)
    assert [(r["affiliate_id"], r["currency"], r["total"], r["cpa_count"]) for r in rows] == [
        ("aff-1", "EUR", "106.15", 1), ("aff-1", "USD", "30.00", 1), ("aff-2", "EUR", "40.00", 1)]
    cmd_ledger(settings, parse(["ledger", "--affiliate", "aff-2", "--period", "2026-11",
                                "--format", "json"]))
    assert [e["amount"] for e in json.loads(capsys.readouterr().out)] == ["40.00"]


class _Unclosed:
    """The test's client, which the CLI's read must not close."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def close(self) -> None:
        pass
