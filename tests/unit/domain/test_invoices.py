"""The invoice of a closed statement row (clickpath/domain/commissions/invoices.py): its net is
the row's total to the cent, VAT the configured rate of the affiliate's country rounded half to
even to the currency's minor unit, reverse charge carries no VAT and the statutory wording, and
whatever would make a wrong invoice (no rate, no country, nothing to invoice) is refused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clickpath.contracts.models import LedgerEntry
from clickpath.domain.commissions.invoice_render import invoice_csv
from clickpath.domain.commissions.invoices import (
    REVERSE_CHARGE_NOTE,
    SELF_BILLING_NOTE,
    InvoiceError,
    build_invoice,
    invoice_number,
)
from tests.unit.domain.invoice_factories import ISSUED, affiliate, closed_row, entry, terms


def test_net_is_the_statement_total_with_one_line_per_column() -> None:
    inv = build_invoice(closed_row(), [], affiliate(), terms(), ISSUED)
    assert inv.net == Decimal("1234.56") == sum(line.amount for line in inv.lines)
    assert [(line.item, line.description, line.quantity, line.amount) for line in inv.lines] == [
        ("cpa_amount", "CPA (3 players)", 3, Decimal("300.00")),
        ("revshare_amount", "Revenue share", None, Decimal("1012.34")),
        ("sub_affiliate_amount", "Sub-affiliate commission", None, Decimal("45.67")),
        ("clawback_amount", "Clawbacks", None, Decimal("-100.00")),
        ("carry_over", "Negative carry-over", None, Decimal("-20.00")),
        ("manual_amount", "Adjustments", None, Decimal("12.50")),
        ("roll_over", "Roll-over to the next period", None, Decimal("-15.95")),
    ]
    assert (inv.number, inv.affiliate_id, inv.period, inv.currency) == (
        "CP-000042", "aff-1", "2026-11", "EUR")
    assert inv.issue_date.isoformat() == "2026-12-02"


def test_self_billed_supplier_is_the_affiliate_customer_the_operator() -> None:
    inv = build_invoice(closed_row(), [], affiliate(), terms(), ISSUED)
    assert (inv.supplier.name, inv.supplier.vat_id) == ("Alpha Media Ltd", "MT12345678")
    assert (inv.customer.name, inv.customer.vat_id) == ("Operator Gaming plc", "MT87654321")
    assert inv.notes == (SELF_BILLING_NOTE,)
    assert "Self-billed invoice" in SELF_BILLING_NOTE


def test_rows_without_manual_amount_and_roll_over_count_them_as_zero() -> None:
    """Today's StatementRow has neither column; the close adds them."""
    row = closed_row(revshare_amount="1028.29", total="1234.56")
    del row["manual_amount"], row["roll_over"]
    row["sub_affiliate_amount"], row["clawback_amount"], row["carry_over"] = "26.27", "-100.00", "-20.00"
    inv = build_invoice(row, [], affiliate(), terms(), ISSUED)
    assert inv.net == Decimal("1234.56")
    assert [line.item for line in inv.lines] == [
        "cpa_amount", "revshare_amount", "sub_affiliate_amount", "clawback_amount", "carry_over"]


def test_a_roll_over_brought_in_reads_from_previous_periods() -> None:
    row = closed_row(cpa_amount="0", cpa_count=0, revshare_amount="10.00", sub_affiliate_amount="0",
                     clawback_amount="0", carry_over="0", manual_amount="0", roll_over="45.00", total="55.00")
    inv = build_invoice(row, [], affiliate(), terms(), ISSUED)
    assert [(line.description, line.amount) for line in inv.lines] == [
        ("Revenue share", Decimal("10.00")), ("Roll-over from previous periods", Decimal("45.00"))]


def test_columns_that_do_not_add_up_to_the_total_are_refused() -> None:
    with pytest.raises(InvoiceError, match="add up to 1234.56, not its total 1300.00"):
        build_invoice(closed_row(total="1300.00"), [], affiliate(), terms(), ISSUED)


def test_standard_rate_mt_18_percent() -> None:
    inv = build_invoice(closed_row(), [], affiliate(), terms(MT="18"), ISSUED)
    assert (inv.vat_rate, inv.vat, inv.gross) == (Decimal("18"), Decimal("222.22"), Decimal("1456.78"))
    assert not inv.reverse_charge


def test_vat_rounds_half_to_even_at_the_minor_unit() -> None:
    """1.25 EUR x 10 % = 0.125: half to even gives 0.12 (half up would give 0.13)."""
    row = closed_row(cpa_amount="1.25", cpa_count=1, revshare_amount="0", sub_affiliate_amount="0",
                     clawback_amount="0", carry_over="0", manual_amount="0", roll_over="0", total="1.25")
    inv = build_invoice(row, [], affiliate(country="DE"), terms(DE="10"), ISSUED)
    assert (inv.vat, inv.gross) == (Decimal("0.12"), Decimal("1.37"))


def test_zero_decimal_currency_jpy() -> None:
    """JPY has no minor unit: 123,457 x 10 % = 12,345.7 -> 12,346; 125 x 10 % = 12.5 -> 12."""
    row = closed_row(currency="JPY", cpa_amount="100000", revshare_amount="23457", sub_affiliate_amount="0",
                     clawback_amount="0", carry_over="0", manual_amount="0", roll_over="0", total="123457")
    inv = build_invoice(row, [], affiliate(country="JP"), terms(JP="10"), ISSUED)
    assert (inv.vat, inv.gross) == (Decimal("12346"), Decimal("135803"))
    assert inv.vat.as_tuple().exponent == 0
    small = dict(row, cpa_amount="125", revshare_amount="0", total="125")
    assert build_invoice(small, [], affiliate(country="JP"), terms(JP="10"), ISSUED).vat == Decimal("12")


def test_reverse_charge_has_no_vat_and_the_statutory_wording() -> None:
    inv = build_invoice(closed_row(), [], affiliate(country="DE", vat_reverse_charge=True),
                        terms(MT="18"), ISSUED)  # no DE rate needed: none applies
    assert (inv.vat_rate, inv.vat, inv.gross, inv.reverse_charge) == (0, 0, Decimal("1234.56"), True)
    assert REVERSE_CHARGE_NOTE in inv.notes
    assert REVERSE_CHARGE_NOTE == ("Reverse charge: VAT to be accounted for by the recipient,"
                                   " Article 196 Council Directive 2006/112/EC")


def test_reverse_charge_needs_both_vat_numbers() -> None:
    with pytest.raises(InvoiceError, match="affiliate aff-1 is reverse charge but has no vat_id"):
        build_invoice(closed_row(), [], affiliate(vat_id=None, vat_reverse_charge=True), terms(), ISSUED)
    no_operator_vat = terms()
    no_operator_vat = no_operator_vat.model_copy(
        update={"operator": no_operator_vat.operator.model_copy(update={"vat_id": None})})
    with pytest.raises(InvoiceError, match="CLICKPATH_INVOICE_OPERATOR_VAT_ID"):
        build_invoice(closed_row(), [], affiliate(vat_reverse_charge=True), no_operator_vat, ISSUED)


def test_a_country_without_a_rate_is_refused_naming_the_setting() -> None:
    with pytest.raises(InvoiceError, match=r"no VAT rate for DE \(affiliate aff-1\).*CLICKPATH_VAT_RATES"):
        build_invoice(closed_row(), [], affiliate(country="DE"), terms(MT="18"), ISSUED)


def test_an_affiliate_without_a_country_is_refused() -> None:
    with pytest.raises(InvoiceError, match="affiliate aff-1 has no country: set affiliates.aff-1.country"):
        build_invoice(closed_row(), [], affiliate(country=None), terms(), ISSUED)


def test_a_configured_zero_rate_is_zero_vat_without_reverse_charge_wording() -> None:
    inv = build_invoice(closed_row(), [], affiliate(country="GI"), terms(GI="0"), ISSUED)
    assert (inv.vat, inv.gross, inv.notes) == (0, Decimal("1234.56"), (SELF_BILLING_NOTE,))


@pytest.mark.parametrize("total", ["0.00", "-5.00"])
def test_a_non_positive_total_has_nothing_to_invoice(total: str) -> None:
    row = closed_row(cpa_amount="0", cpa_count=0, revshare_amount=total, sub_affiliate_amount="0",
                     clawback_amount="0", carry_over="0", manual_amount="0", roll_over="0", total=total)
    with pytest.raises(InvoiceError, match=f"totals {total} EUR: nothing to invoice"):
        build_invoice(row, [], affiliate(), terms(), ISSUED)


def test_an_open_row_or_one_without_a_number_is_refused() -> None:
    for row in (closed_row(invoice_number=None), closed_row(closed_at=None)):
        with pytest.raises(InvoiceError, match="is not closed"):
            build_invoice(row, [], affiliate(), terms(), ISSUED)


def test_missing_party_details_are_refused_by_name() -> None:
    with pytest.raises(InvoiceError, match="affiliate aff-1 has no legal_name"):
        build_invoice(closed_row(), [], affiliate(legal_name=""), terms(), ISSUED)
    with pytest.raises(InvoiceError, match="affiliate aff-1 has no address"):
        build_invoice(closed_row(), [], affiliate(address="  "), terms(), ISSUED)
    nameless = terms()
    nameless = nameless.model_copy(update={"operator": nameless.operator.model_copy(update={"name": ""})})
    with pytest.raises(InvoiceError, match="CLICKPATH_INVOICE_OPERATOR_NAME"):
        build_invoice(closed_row(), [], affiliate(), nameless, ISSUED)


def test_float_amounts_are_refused() -> None:
    with pytest.raises(InvoiceError, match="total must be a decimal string"):
        build_invoice(closed_row(total=1234.56), [], affiliate(), terms(), ISSUED)


def test_the_issue_time_is_kept_in_utc_and_must_carry_a_zone() -> None:
    malta = timezone(timedelta(hours=1))
    inv = build_invoice(closed_row(), [], affiliate(), terms(), datetime(2026, 12, 2, 0, 30, tzinfo=malta))
    assert inv.issued_at == datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    with pytest.raises(InvoiceError, match="time zone"):
        build_invoice(closed_row(), [], affiliate(), terms(), datetime(2026, 12, 2))


def test_fx_lines_list_each_recorded_rate_per_converted_currency() -> None:
    entries = [
        entry("92.00", "USD", "0.92"),
        entry("46.00", "USD", "0.920000"),       # the same rate at the wire scale: listed once
        entry("18.30", "USD", "0.915"),          # a CPA qualified on another day's rate
        entry("116.00", "GBP", "1.16"),
        entry("50.00"),                           # not converted: no line
        entry("10.00", "USD", "0.5", currency="USD"),  # another row's currency: not this invoice's
        entry("10.00", "USD", "0.7", period="2026-10"),
        entry("10.00", "USD", "0.8", affiliate_id="aff-2"),
    ]
    inv = build_invoice(closed_row(), entries, affiliate(), terms(), ISSUED)
    assert [(f.from_currency, f.to_currency, f.rate) for f in inv.fx] == [
        ("GBP", "EUR", Decimal("1.16")), ("USD", "EUR", Decimal("0.915")), ("USD", "EUR", Decimal("0.92"))]


def test_fx_lines_read_ledger_entries_too() -> None:
    e = LedgerEntry(
        entry_id="e1", affiliate_id="aff-1", period="2026-11", kind="accrual", component="cpa",
        amount=Decimal("92.00"), currency="EUR", original_amount=Decimal("100.00"),
        original_currency="USD", fx_rate=Decimal("0.920000"), plan_id="p", plan_version=1,
        caused_by=["ev-1"], occurred_at=ISSUED, recorded_at=ISSUED,
    )
    inv = build_invoice(closed_row(), [e], affiliate(), terms(), ISSUED)
    assert [(f.from_currency, f.rate) for f in inv.fx] == [("USD", Decimal("0.92"))]


def test_invoice_number_format() -> None:
    assert invoice_number("CP", 42) == "CP-000042"
    assert invoice_number("OP-2026", 1) == "OP-2026-000001"
    assert invoice_number("CP", 1234567) == "CP-1234567"
    for prefix, sequence in (("", 1), ("C P", 1), ("CP", 0), ("CP", -1)):
        with pytest.raises(InvoiceError):
            invoice_number(prefix, sequence)


def test_a_converted_entry_without_a_rate_is_refused() -> None:
    with pytest.raises(InvoiceError, match="converts USD with no fx_rate"):
        build_invoice(closed_row(), [entry("9.20", "USD", "")], affiliate(), terms(), ISSUED)


cents = st.decimals(min_value=-10_000, max_value=100_000, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(amounts=st.lists(cents, min_size=7, max_size=7), rate=st.decimals(
    min_value=0, max_value=Decimal("99.99"), places=2, allow_nan=False, allow_infinity=False))
def test_any_positive_row_invoices_its_total_exactly(amounts: list[Decimal], rate: Decimal) -> None:
    columns = ("cpa_amount", "revshare_amount", "sub_affiliate_amount", "clawback_amount",
               "carry_over", "manual_amount", "roll_over")
    total = sum(amounts, Decimal(0))
    assume(total > 0)
    row = closed_row(**{c: f"{a}" for c, a in zip(columns, amounts, strict=True)}, total=f"{total}")
    inv = build_invoice(row, [], affiliate(), terms(MT=f"{rate}"), ISSUED)
    assert inv.net == total == sum(line.amount for line in inv.lines)
    assert inv.vat == (total * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    assert inv.gross == inv.net + inv.vat
    parsed = list(csv.DictReader(io.StringIO(invoice_csv(inv))))
    assert sum(Decimal(r["amount"]) for r in parsed if r["kind"] == "line") == total
    assert [Decimal(r["amount"]) for r in parsed if r["kind"] == "gross"] == [inv.gross]
