"""The close's pure decisions (domain/commissions/close.py): which late entries an open period
pays, what rolls over under the minimum, gapless invoice numbers, a close done again after an
interruption deciding the same, and what may be paid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from clickpath.domain.commissions.close import (
    CloseRefused,
    clean_reason,
    close_problem,
    decide_close,
    first_open_period,
    late_windows,
    payment_problem,
    previous_period,
    status_now,
)
from clickpath.domain.commissions.statements import statement_row

T = datetime(2026, 12, 3, 9, tzinfo=UTC)


def row(affiliate: str, total: str, period: str = "2026-11", **sums: str):
    amounts = {"cpa_amount": total, **sums}
    return statement_row(affiliate, period, "EUR", amounts, T)


def test_late_windows_cover_the_closed_run_just_before_an_open_period() -> None:
    closes = {"2026-09": T - timedelta(days=60), "2026-10": T - timedelta(days=30),
              "2026-11": T - timedelta(days=1)}
    # December pays November's late entries (after Nov's close), and October's that came after
    # both October's and November's closes (else November paid them), and so on.
    assert late_windows("2026-12", closes) == [
        ("2026-11", T - timedelta(days=1)), ("2026-10", T - timedelta(days=1)),
        ("2026-09", T - timedelta(days=1))]
    # An open period stops the run: it pays its own late-comers.
    assert late_windows("2026-12", {"2026-09": T, "2026-11": T - timedelta(days=2)}) == [
        ("2026-11", T - timedelta(days=2))]
    assert late_windows("2026-12", {}) == []
    # Closed out of order: the latest close of the run is the bar.
    out_of_order = {"2026-10": T, "2026-11": T - timedelta(days=5)}
    assert late_windows("2026-12", out_of_order) == [
        ("2026-11", T - timedelta(days=5)), ("2026-10", T)]


def test_periods_roll_over_the_year() -> None:
    assert previous_period("2027-01") == "2026-12"
    assert first_open_period("2026-12", {"2026-12": T, "2027-01": T}) == "2027-02"


def test_under_the_minimum_or_negative_rolls_over_and_invoices_are_gapless() -> None:
    rows = [row("b-small", "30.00"), row("a-big", "150.00"), row("c-neg", "-20.00"),
            row("d-zero", "0.00"), row("e-big", "60.00")]
    minimums = {"b-small": Decimal("50"), "e-big": Decimal("50")}
    closed, entries = decide_close(rows, {}, minimums, 7, "close-1", T)
    fate = {c.row.affiliate_id: (c.status, c.row.total, c.invoice_seq, c.rolled_over) for c in closed}
    assert fate == {
        "a-big": ("closed", Decimal("150.00"), 7, Decimal(0)),
        "b-small": ("under_minimum", Decimal(0), None, Decimal("30.00")),
        "c-neg": ("under_minimum", Decimal(0), None, Decimal("-20.00")),
        "d-zero": ("closed", Decimal("0.00"), None, Decimal(0)),
        "e-big": ("closed", Decimal("60.00"), 8, Decimal(0)),
    }
    moved = sorted((e.affiliate_id, e.period, e.amount, e.reason) for e in entries)
    assert moved == [
        ("b-small", "2026-11", Decimal("-30.00"), "rolled_over_out"),
        ("b-small", "2026-12", Decimal("30.00"), "rolled_over_in"),
        ("c-neg", "2026-11", Decimal("20.00"), "rolled_over_out"),
        ("c-neg", "2026-12", Decimal("-20.00"), "rolled_over_in"),
    ]
    assert {e.kind for e in entries} == {"roll_over"} and {e.component for e in entries} == {"payout"}
    # The input order does not change the numbers (they follow affiliate and currency).
    again, _ = decide_close(list(reversed(rows)), {}, minimums, 7, "close-1", T)
    assert [(c.row.affiliate_id, c.invoice_seq) for c in again] == [
        (c.row.affiliate_id, c.invoice_seq) for c in closed]


def test_a_close_done_again_after_an_interruption_decides_the_same() -> None:
    first, entries = decide_close([row("b", "30.00")], {}, {"b": Decimal(50)}, 1, "close-1", T)
    # The interrupted close wrote its roll-over out: the row now holds it.
    held = row("b", "0.00", cpa_amount="30.00", roll_over="-30.00")
    again, entries_again = decide_close(
        [held], {("b", "EUR"): Decimal("-30.00")}, {"b": Decimal(50)}, 1, "close-2", T)
    assert [(c.status, c.row.total, c.row.roll_over, c.rolled_over) for c in again] == [
        (c.status, c.row.total, c.row.roll_over, c.rolled_over) for c in first]
    assert [e.entry_id for e in entries_again] == [e.entry_id for e in entries]  # counted once


def test_status_and_what_may_be_paid() -> None:
    assert status_now("closed", paid=False, held=False) == "closed"
    assert status_now("closed", paid=False, held=True) == "on_hold"
    assert status_now("under_minimum", paid=False, held=True) == "under_minimum"
    assert status_now("closed", paid=True, held=True) == "paid"
    assert payment_problem("closed", Decimal("10"), None, "R") is None
    assert payment_problem("paid", Decimal("10"), "R", "R") is None  # the same payment again
    assert "already paid" in (payment_problem("paid", Decimal("10"), "R", "S") or "")
    assert "minimum" in (payment_problem("under_minimum", Decimal(0), None, "R") or "")
    assert "on hold" in (payment_problem("on_hold", Decimal("10"), None, "R") or "")
    assert "nothing to pay" in (payment_problem("closed", Decimal(0), None, "R") or "")


def test_a_period_closes_only_once_it_has_ended_in_the_commission_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert close_problem("2026-11", datetime(2026, 11, 30, 22, 59, tzinfo=UTC), berlin)
    assert close_problem("2026-11", datetime(2026, 11, 30, 23, 0, tzinfo=UTC), berlin) is None


def test_a_reason_is_required_and_bounded() -> None:
    assert clean_reason("  bonus   abuse ") == "bonus abuse"
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(CloseRefused):
            clean_reason(bad)
