"""Closing periods, adjusting and paying, in real ClickHouse (embedded chdb, the shipped DDL):
a close freezes the period, a second close is a no-op, a late entry lands in the next open
period, a total under the minimum rolls over (over two periods), adjustments and payments are
recorded with who and when, and all of it is still there when the engine is opened again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clickpath.contracts.models import LedgerEntry
from clickpath.domain.commissions.close import CloseRefused
from clickpath.infra.clickhouse import apply_migrations, connect
from clickpath.infra.closes import Actor, adjust, close_period, held_affiliates, pay, statements
from clickpath.infra.ledger import query_ledger_entries
from clickpath.infra.statement_reads import actions
from clickpath.settings import Settings
from clickpath.sinks.clickhouse.writer import write_batch

DB = "clickpath"
UTC_ZONE = ZoneInfo("UTC")
ADMIN = Actor("key-admin", "alice")
MINIMUMS = {"aff-small": Decimal("50.00")}


def entry(entry_id: str, affiliate: str, period: str, amount: str, **changes: Any) -> LedgerEntry:
    at = datetime.fromisoformat(f"{period}-10T12:00:00+00:00")
    fields: dict[str, Any] = dict(
        entry_id=entry_id, affiliate_id=affiliate, period=period, kind="accrual",
        component="cpa", amount=Decimal(amount), currency="EUR",
        original_amount=Decimal(amount), original_currency="EUR", fx_rate=Decimal(1),
        plan_id="cpa", plan_version=1, player_token=f"tok-{entry_id}", caused_by=[entry_id],
        occurred_at=at, recorded_at=at,
    )
    return LedgerEntry(**{**fields, **changes})


def close(client, period: str) -> tuple[list[Any], bool]:
    return close_period(client, DB, period=period, actor=ADMIN, zone=UTC_ZONE,
                        min_payouts=MINIMUMS.get)


def by_affiliate(rows) -> dict[str, Any]:
    return {r.affiliate_id: r for r in rows}


def test_close_freezes_rolls_over_under_the_minimum_and_pays_late_entries_next(client) -> None:
    write_batch(client, DB, [
        entry("a1", "aff-big", "2026-09", "150.00"),
        entry("s1", "aff-small", "2026-09", "30.00"),
        entry("n1", "aff-neg", "2026-09", "-20.00", kind="clawback", reason="chargeback"),
    ])
    rows, closed = close(client, "2026-09")
    assert closed
    sept = by_affiliate(rows)
    assert (sept["aff-big"].status, sept["aff-big"].total, sept["aff-big"].invoice_number) == (
        "closed", Decimal("150.00"), "CP-000001")
    assert (sept["aff-small"].status, sept["aff-small"].total, sept["aff-small"].roll_over) == (
        "under_minimum", Decimal(0), Decimal("-30.00"))
    assert (sept["aff-neg"].status, sept["aff-neg"].total, sept["aff-neg"].invoice_number) == (
        "under_minimum", Decimal(0), None)
    assert {r.closed_by for r in rows} == {"key-admin"}

    again, closed_again = close(client, "2026-09")  # a second close changes nothing
    assert not closed_again and [r.as_json() for r in again] == [r.as_json() for r in rows]

    # A late September entry (after the close) and October's own: October pays both, and the
    # roll-overs; September stays as it was.
    write_batch(client, DB, [
        entry("a2", "aff-big", "2026-09", "40.00"),
        entry("s2", "aff-small", "2026-10", "15.00"),
    ])
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert [r.as_json() for r in statements(client, DB, period="2026-09", as_of=later)] == [
        r.as_json() for r in rows]
    october = by_affiliate(statements(client, DB, period="2026-10", as_of=later))
    assert october["aff-big"].total == Decimal("40.00") and october["aff-big"].status == "open"
    assert (october["aff-small"].roll_over, october["aff-small"].total) == (
        Decimal("30.00"), Decimal("45.00"))
    assert october["aff-neg"].total == Decimal("-20.00")
    listed = query_ledger_entries(client, DB, affiliate_id="aff-big", period="2026-10", as_of=later)
    assert [(e["entry_id"], e["period"]) for e in listed] == [("a2", "2026-09")]

    # October: aff-small's 45.00 (30 rolled in + 15) is still under 50: it rolls on again.
    rows_oct, _ = close(client, "2026-10")
    oct_closed = by_affiliate(rows_oct)
    assert (oct_closed["aff-small"].status, oct_closed["aff-small"].roll_over) == (
        "under_minimum", Decimal("-15.00"))  # +30 in, -45 out
    assert oct_closed["aff-big"].invoice_number == "CP-000002"  # numbered on, without gaps
    write_batch(client, DB, [entry("s3", "aff-small", "2026-11", "10.00")])
    rows_nov, _ = close(client, "2026-11")
    nov = by_affiliate(rows_nov)
    assert (nov["aff-small"].status, nov["aff-small"].total, nov["aff-small"].invoice_number) == (
        "closed", Decimal("55.00"), "CP-000003")
    assert nov["aff-neg"].status == "under_minimum"  # a debt travels on



def test_adjust_and_pay_are_recorded_with_who_and_when(client) -> None:
    write_batch(client, DB, [entry("a1", "aff-big", "2026-09", "150.00"),
                             entry("s1", "aff-small", "2026-09", "30.00")])
    with pytest.raises(CloseRefused, match="close it before paying"):
        pay(client, DB, period="2026-09", affiliate_id="aff-big", reference="W-1", actor=ADMIN)
    close(client, "2026-09")
    with pytest.raises(CloseRefused, match="2026-09 is closed; adjust 2026-10"):
        adjust(client, DB, affiliate_id="aff-big", amount=Decimal("-50.00"), currency="EUR",
               reason="duplicate traffic", actor=ADMIN, zone=UTC_ZONE, period="2026-09")
    with pytest.raises(CloseRefused, match="reason"):
        adjust(client, DB, affiliate_id="aff-big", amount=Decimal("-50.00"), currency="EUR",
               reason="  ", actor=ADMIN, zone=UTC_ZONE, period="2026-10")
    made = adjust(client, DB, affiliate_id="aff-big", amount=Decimal("-50.00"), currency="EUR",
                  reason="duplicate traffic", actor=ADMIN, zone=UTC_ZONE, period="2026-10")
    assert (made.kind, made.component, made.period, made.reason) == (
        "adjustment", "manual", "2026-10", "duplicate traffic")
    october = by_affiliate(statements(client, DB, period="2026-10",
                                      as_of=datetime.now(UTC) + timedelta(seconds=5)))
    assert (october["aff-big"].manual_amount, october["aff-big"].total) == (
        Decimal("-50.00"), Decimal("-50.00"))

    with pytest.raises(CloseRefused, match="under the minimum"):
        pay(client, DB, period="2026-09", affiliate_id="aff-small", reference="W-0", actor=ADMIN)
    with pytest.raises(CloseRefused, match="no statement"):
        pay(client, DB, period="2026-09", affiliate_id="aff-nobody", reference="W-0", actor=ADMIN)
    with pytest.raises(CloseRefused, match="on hold"):
        pay(client, DB, period="2026-09", affiliate_id="aff-big", reference="W-1", actor=ADMIN,
            holds=frozenset({"aff-big"}))
    [paid] = pay(client, DB, period="2026-09", affiliate_id="aff-big", reference="W-1", actor=ADMIN)
    assert (paid.status, paid.payment_reference, paid.paid_by) == ("paid", "W-1", "key-admin")
    [again] = pay(client, DB, period="2026-09", affiliate_id="aff-big", reference="W-1", actor=ADMIN)
    assert again.paid_at == paid.paid_at  # the same payment again: a no-op
    with pytest.raises(CloseRefused, match="already paid, reference 'W-1'"):
        pay(client, DB, period="2026-09", affiliate_id="aff-big", reference="W-2", actor=ADMIN)

    log = actions(client, DB)
    assert [(a["kind"], a["affiliate_id"], a["actor"], a["requested_by"]) for a in log][::-1] == [
        ("close", "", "key-admin", "alice"), ("adjust", "aff-big", "key-admin", "alice"),
        ("pay", "aff-big", "key-admin", "alice")]
    assert log[0]["reference"] == "W-1" and log[1]["reason"] == "duplicate traffic"


def test_a_period_not_ended_cannot_close(client) -> None:
    this_month = datetime.now(UTC).strftime("%Y-%m")
    with pytest.raises(CloseRefused, match="has not ended"):
        close(client, this_month)


def test_closes_adjustments_and_payments_survive_reopening_the_engine(tmp_path) -> None:
    settings = Settings(clickhouse_url=f"chdb://{tmp_path / 'ch'}", clickhouse_database=DB)
    first = connect(settings)
    apply_migrations(first, DB)
    write_batch(first, DB, [entry("a1", "aff-big", "2026-09", "150.00")])
    rows, _ = close(first, "2026-09")
    pay(first, DB, period="2026-09", affiliate_id="aff-big", reference="W-1", actor=ADMIN)
    first.close()
    second = connect(settings)
    try:
        apply_migrations(second, DB)
        [kept] = statements(second, DB, period="2026-09", as_of=datetime.now(UTC))
        assert (kept.status, kept.total, kept.invoice_number, kept.payment_reference) == (
            "paid", Decimal("150.00"), "CP-000001", "W-1")
        _, closed = close(second, "2026-09")
        assert not closed
    finally:
        second.close()


def test_a_closed_row_is_on_hold_while_a_fraud_hold_applies_and_payable_once_released(client) -> None:
    from tests.integration.test_clickhouse_affiliate_players import status

    write_batch(client, DB, [entry("a1", "aff-big", "2026-09", "150.00"),
                             status("tok-x", 1, "held", ("fraud_hold",), affiliate="aff-big")])
    rows, _ = close_period(client, DB, period="2026-09", actor=ADMIN, zone=UTC_ZONE,
                           min_payouts=MINIMUMS.get, holds=held_affiliates(client, DB))
    [held] = rows
    assert (held.status, held.invoice_number) == ("on_hold", "CP-000001")
    with pytest.raises(CloseRefused, match="on hold"):
        pay(client, DB, period="2026-09", affiliate_id="aff-big", reference="W-1", actor=ADMIN,
            holds=held_affiliates(client, DB))
    write_batch(client, DB, [status("tok-x", 2, "qualified", affiliate="aff-big")])  # released
    [released] = statements(client, DB, period="2026-09", as_of=datetime.now(UTC),
                            holds=held_affiliates(client, DB))
    assert released.status == "closed" and released.total == Decimal("150.00")
    [paid] = pay(client, DB, period="2026-09", affiliate_id="aff-big", reference="W-1", actor=ADMIN,
                 holds=held_affiliates(client, DB))
    assert paid.status == "paid"


def test_a_close_that_stopped_half_way_counts_for_nothing_and_the_next_one_decides_afresh(
    client,
) -> None:
    """An attempt that took its entries in and wrote its roll-overs but no marker (a crash):
    none of it counts; the next close takes everything in, including what arrived since."""
    from clickpath.domain.commissions.close import roll_over_entries
    from clickpath.domain.commissions.statements import statement_row

    write_batch(client, DB, [entry("s1", "aff-small", "2026-09", "30.00")])
    dead = "close-2026-09-dead"
    client.command(f"INSERT INTO {DB}.statement_close_entries SELECT '{dead}', period, "
                   f"affiliate_id, entry_id FROM {DB}.ledger_entries")
    half = statement_row("aff-small", "2026-09", "EUR", {"cpa_amount": "30.00"}, datetime.now(UTC))
    write_batch(client, DB, list(roll_over_entries(half, Decimal("30.00"), dead, datetime.now(UTC))))
    [before] = statements(client, DB, period="2026-09", as_of=datetime.now(UTC) + timedelta(seconds=5))
    assert (before.status, before.total, before.roll_over) == ("open", Decimal("30.00"), Decimal(0))
    assert statements(client, DB, period="2026-10", as_of=datetime.now(UTC) + timedelta(seconds=5)) == []

    write_batch(client, DB, [entry("s2", "aff-small", "2026-09", "25.00")])  # since the crash
    rows, closed = close(client, "2026-09")
    [row] = rows
    assert closed and (row.status, row.total, row.invoice_number) == ("closed", Decimal("55.00"), "CP-000001")
    listed = query_ledger_entries(client, DB, affiliate_id="aff-small", period="2026-09",
                                  as_of=datetime.now(UTC) + timedelta(seconds=5))
    assert sorted(e["entry_id"] for e in listed) == ["s1", "s2"]  # the dead roll-over: nowhere
    assert statements(client, DB, period="2026-10", as_of=datetime.now(UTC) + timedelta(seconds=5)) == []


def test_an_entry_re_sent_after_the_close_is_not_paid_again(client) -> None:
    """The same entry id written again after the close (a replay; a merge may keep either
    copy): it was taken in by the close, so no later period pays it."""
    write_batch(client, DB, [entry("a1", "aff-big", "2026-09", "150.00")])
    close(client, "2026-09")
    write_batch(client, DB, [entry("a1", "aff-big", "2026-09", "150.00")])
    client.command(f"OPTIMIZE TABLE {DB}.commission_ledger FINAL")
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert statements(client, DB, period="2026-10", as_of=later) == []
    [sept] = statements(client, DB, period="2026-09", as_of=later)
    assert sept.total == Decimal("150.00")
