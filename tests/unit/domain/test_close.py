"""The close's pure decisions (domain/commissions/close.py): which periods' late entries an
open period pays, what rolls over under the minimum, gapless invoice numbers, roll-over ids of
each close's own, and what may be paid."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from clickpath.domain.commissions.close import (
    CloseRefused,
    clean_reason,
    close_problem,
    decide_close,
    first_open_period,
    pay_chain,
    payment_problem,
    previous_period,
    status_now,
)
from clickpath.domain.commissions.statements import statement_row

T = datetime(2026, 12, 3, 9, tzinfo=UTC)


def row(affiliate: str, total: str, period: str = "2026-11", **sums: str):
    amounts = {"cpa_amount": total, **sums}
    return statement_row(affiliate, period, "EUR", amounts, T)


def test_an_open_period_pays_the_closed_run_just_before_it() -> None:
    assert pay_chain("2026-12", {"2026-09", "2026-10", "2026-11"}) == [
        "2026-12", "2026-11", "2026-10", "2026-09"]
    # An open period stops the run: it pays its own late-comers.
    assert pay_chain("2026-12", {"2026-09", "2026-11"}) == ["2026-12", "2026-11"]
    assert pay_chain("2026-12", set()) == ["2026-12"]
    assert pay_chain("2027-01", {"2026-12"}) == ["2027-01", "2026-12"]


def test_periods_roll_over_the_year() -> None:
    assert previous_period("2027-01") == "2026-12"
    assert first_open_period("2026-12", {"2026-12": T, "2027-01": T}) == "2027-02"


def test_under_the_minimum_or_negative_rolls_over_and_invoices_are_gapless() -> None:
    rows = [row("b-small", "30.00"), row("a-big", "150.00"), row("c-neg", "-20.00"),
            row("d-zero", "0.00"), row("e-big", "60.00")]
    minimums = {"b-small": Decimal("50"), "e-big": Decimal("50")}
    closed, entries = decide_close(rows, minimums, 7, "close-1", T)
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
    again, _ = decide_close(list(reversed(rows)), minimums, 7, "close-1", T)
    assert [(c.row.affiliate_id, c.invoice_seq) for c in again] == [
        (c.row.affiliate_id, c.invoice_seq) for c in closed]


def test_roll_over_ids_are_the_closes_own() -> None:
    """A close that stopped half way wrote entries that count for nothing: the next attempt's
    must not share their ids (the ledger would keep the first copy)."""
    _, first = decide_close([row("b", "30.00")], {"b": Decimal(50)}, 1, "close-1", T)
    _, again = decide_close([row("b", "45.00")], {"b": Decimal(50)}, 1, "close-2", T)
    assert not {e.entry_id for e in first} & {e.entry_id for e in again}
    assert [e.amount for e in again] == [Decimal("-45.00"), Decimal("45.00")]


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


def test_an_adjustment_the_ledger_cannot_hold_exactly_is_refused_by_field() -> None:
    from clickpath.domain.commissions.close import check_adjustment

    check_adjustment("aff-1", Decimal("-50.000001"), "EUR")
    for args, field in ((("aff-1", Decimal("1.0000009"), "EUR"), "amount"),
                        (("aff-1", Decimal("1e25"), "EUR"), "amount"),
                        (("aff-1", Decimal(0), "EUR"), "amount"),
                        (("aff-1", Decimal("NaN"), "EUR"), "amount"),
                        (("aff-1", Decimal("5"), "XXY"), "currency"),
                        (("a/b", Decimal("5"), "EUR"), "affiliate_id")):
        with pytest.raises(CloseRefused, match=f"^{field}:") as raised:
            check_adjustment(*args)
        assert raised.value.status == 422
