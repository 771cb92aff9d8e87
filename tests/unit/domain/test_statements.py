"""Statements and the ledger listing from hand-made entries (clickpath/domain/commissions/
statements.py): one row per affiliate and currency, each total the exact sum of its entries
recorded up to `as_of`, a re-sent entry counted once from its first recording."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickpath.contracts.models import LedgerEntry
from clickpath.domain.commissions.statements import (
    entry_json,
    ledger,
    render_ledger,
    render_statements,
    statements,
)

T0 = datetime(2026, 11, 3, 9, tzinfo=UTC)


def entry(entry_id: str, amount: str, kind: str = "accrual", component: str = "cpa", *,
          affiliate: str = "aff-1", currency: str = "EUR", hours: int = 0,
          period: str = "2026-11") -> LedgerEntry:
    return LedgerEntry(
        entry_id=entry_id, affiliate_id=affiliate, period=period, kind=kind,  # type: ignore[arg-type]
        component=component, amount=Decimal(amount), currency=currency,  # type: ignore[arg-type]
        original_amount=Decimal(amount), original_currency=currency, fx_rate=Decimal(1),
        plan_id="plan-1", plan_version=2, player_token="tok", caused_by=[f"ev-{entry_id}"],
        occurred_at=T0, recorded_at=T0 + timedelta(hours=hours),
    )


ENTRIES = [
    entry("c1", "100.00"),
    entry("c2", "100.00", hours=1),
    entry("c3", "0.00", hours=1),  # over the monthly cap: no CPA counted
    entry("r1", "12.34", "adjustment", "revshare", hours=2),
    entry("r2", "-2.30", "adjustment", "revshare", hours=3),
    entry("k1", "-100.00", "clawback", "cpa", hours=4),
    entry("s1", "1.11", "accrual", "sub_affiliate", hours=4),
    entry("co", "-5.00", "carry_over", "revshare", hours=5),
    entry("c1", "100.00", hours=6),  # re-sent after a crash: counts once, from hour 0
    entry("u1", "30.00", currency="USD", hours=1),
    entry("b1", "40.00", affiliate="aff-2", hours=1),
    entry("old", "999.00", period="2026-10"),
]


def test_one_row_per_affiliate_and_currency_with_exact_sums() -> None:
    rows = statements(ENTRIES, "2026-11", T0 + timedelta(days=1))
    assert [(r.affiliate_id, r.currency) for r in rows] == [("aff-1", "EUR"), ("aff-1", "USD"),
                                                            ("aff-2", "EUR")]
    eur = rows[0]
    assert (eur.cpa_count, eur.cpa_amount, eur.revshare_amount, eur.sub_affiliate_amount,
            eur.clawback_amount, eur.carry_over) == (
        1, Decimal("200.00"), Decimal("10.04"), Decimal("1.11"), Decimal("-100.00"), Decimal("-5.00"))
    assert eur.total == Decimal("106.15") and eur.entries == 8 and eur.status == "open"
    assert (rows[1].total, rows[1].cpa_count, rows[2].total) == (Decimal("30.00"), 1, Decimal("40.00"))


def test_as_of_keeps_the_entries_recorded_until_then_and_a_re_sent_one_from_its_first() -> None:
    at_0 = statements(ENTRIES, "2026-11", T0)
    assert [(r.affiliate_id, r.total, r.entries, r.cpa_count) for r in at_0] == [
        ("aff-1", Decimal("100.00"), 1, 1)]
    at_3 = statements(ENTRIES, "2026-11", T0 + timedelta(hours=3, minutes=59))
    assert at_3[0].total == Decimal("210.04") and at_3[0].cpa_count == 2
    assert statements(ENTRIES, "2026-12", T0 + timedelta(days=1)) == []


def test_the_ledger_lists_an_affiliates_entries_once_in_recorded_order() -> None:
    listed = ledger(ENTRIES, "aff-1", "2026-11", T0 + timedelta(days=1))
    assert [e.entry_id for e in listed] == ["c1", "c2", "c3", "u1", "r1", "r2", "k1", "s1", "co"]
    assert listed[0].recorded_at == T0
    assert sum(e.amount for e in listed if e.currency == "EUR") == Decimal("106.15")


def test_json_amounts_are_decimal_strings_and_entries_carry_what_a_partner_checks() -> None:
    rows = statements(ENTRIES, "2026-11", T0 + timedelta(days=1))
    out = json.loads(render_statements([r.as_json() for r in rows], "json"))
    assert out[0]["total"] == "106.15" and out[0]["cpa_amount"] == "200.00"
    assert out[0]["as_of"] == "2026-11-04T09:00:00Z"
    assert set(out[0]) >= {"affiliate_id", "period", "currency", "cpa_count", "cpa_amount",
                           "revshare_amount", "clawback_amount", "carry_over", "total", "status",
                           "as_of", "entries"}
    listed = json.loads(render_ledger([entry_json(e) for e in ENTRIES[:1]], "json"))
    assert {k: listed[0][k] for k in ("amount", "currency", "kind", "plan_id", "caused_by")} == {
        "amount": "100.00", "currency": "EUR", "kind": "accrual", "plan_id": "plan-1",
        "caused_by": ["ev-c1"]}


def test_csv_and_table() -> None:
    rows = [r.as_json() for r in statements(ENTRIES, "2026-11", T0 + timedelta(days=1))]
    parsed: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(render_statements(rows, "csv"))))
    assert [(r["affiliate_id"], r["currency"], r["total"]) for r in parsed] == [
        ("aff-1", "EUR", "106.15"), ("aff-1", "USD", "30.00"), ("aff-2", "EUR", "40.00")]
    table = render_statements(rows, "table")
    assert "106.15" in table and "aff-2" in table
    assert "No ledger entries" in render_statements([], "table")
    ledger_csv = list(csv.DictReader(io.StringIO(
        render_ledger([entry_json(e) for e in ENTRIES[:2]], "csv"))))
    assert [(r["entry_id"], r["amount"], r["caused_by"]) for r in ledger_csv] == [
        ("c1", "100.00", "ev-c1"), ("c2", "100.00", "ev-c2")]


def test_periods_and_times_are_refused_by_what_is_wrong() -> None:
    import pytest

    from clickpath.domain.commissions.statements import parse_as_of, parse_period

    assert parse_period("2026-11") == "2026-11"
    for bad in ("2026-13", "2026-1", "nov", "2026-11-01"):
        with pytest.raises(ValueError, match="is not a period: use YYYY-MM"):
            parse_period(bad)
    assert parse_as_of("2026-11-30") == datetime(2026, 11, 30, 23, 59, 59, 999000, UTC)
    assert parse_as_of("2026-11-30T10:00:00Z") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_as_of("2026-11-30T12:00:00+02:00") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_as_of("2026-11-30T10:00") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="is not a time: use ISO 8601"):
        parse_as_of("yesterday")
