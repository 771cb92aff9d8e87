"""An invoice as CSV, HTML and PDF (clickpath/domain/commissions/invoice_render.py,
invoice_pdf.py): the CSV parses back to the same totals, the HTML escapes every value and loads
nothing, the PDF is a PDF holding the number and totals."""

from __future__ import annotations

import csv
import io
import re
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

from clickpath.domain.commissions.invoice_pdf import invoice_pdf
from clickpath.domain.commissions.invoice_render import amount_text, invoice_csv, invoice_html
from clickpath.domain.commissions.invoices import REVERSE_CHARGE_NOTE, Invoice, InvoiceError, build_invoice
from tests.unit.domain.invoice_factories import ISSUED, affiliate, closed_row, entry, terms

SCRIPT = "<script>alert(1)</script>"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def standard(**affiliate_fields: object) -> Invoice:
    entries = [entry("92.00", "USD", "0.92"), entry("11.60", "GBP", "1.16")]
    return build_invoice(closed_row(), entries, affiliate(**affiliate_fields), terms(MT="18"), ISSUED)


def test_amount_text_keeps_the_currency_minor_unit() -> None:
    assert amount_text(Decimal("1234.5"), "EUR") == "1,234.50 EUR"
    assert amount_text(Decimal("123457"), "JPY") == "123,457 JPY"
    assert amount_text(Decimal("-12.345"), "KWD") == "-12.345 KWD"
    assert amount_text(Decimal("0.000123"), "EUR") == "0.000123 EUR"  # more places: never rounded away


def test_csv_parses_back_with_the_same_totals() -> None:
    inv = standard()
    rows = list(csv.DictReader(io.StringIO(invoice_csv(inv))))
    assert {r["invoice_number"] for r in rows} == {"CP-000042"}
    lines = [r for r in rows if r["kind"] == "line"]
    assert [r["item"] for r in lines] == [line.item for line in inv.lines]
    by_kind = {r["kind"]: Decimal(r["amount"]) for r in rows if r["kind"] in ("net", "vat", "gross")}
    assert sum(Decimal(r["amount"]) for r in lines) == by_kind["net"] == Decimal("1234.56")
    assert (by_kind["vat"], by_kind["gross"]) == (Decimal("222.22"), Decimal("1456.78"))
    assert by_kind["net"] + by_kind["vat"] == by_kind["gross"]
    assert lines[0]["quantity"] == "3" and lines[0]["description"] == "CPA (3 players)"
    fx = [(r["item"], r["amount"], r["description"]) for r in rows if r["kind"] == "fx"]
    assert fx == [("GBP/EUR", "1.160000", "1 GBP = 1.160000 EUR"),
                  ("USD/EUR", "0.920000", "1 USD = 0.920000 EUR")]


def test_csv_of_a_zero_decimal_currency_has_no_decimals() -> None:
    row = closed_row(currency="JPY", cpa_amount="100000", revshare_amount="23457", sub_affiliate_amount="0",
                     clawback_amount="0", carry_over="0", manual_amount="0", roll_over="0", total="123457")
    inv = build_invoice(row, [], affiliate(country="JP"), terms(JP="10"), ISSUED)
    amounts = {r["kind"]: r["amount"] for r in csv.DictReader(io.StringIO(invoice_csv(inv)))}
    assert (amounts["net"], amounts["vat"], amounts["gross"]) == ("123457", "12346", "135803")


def test_html_escapes_every_value_and_shows_number_and_totals() -> None:
    inv = standard(legal_name=SCRIPT, address='1 "Quote" St & <b>Co</b>', vat_id="MT<1>")
    page = invoice_html(inv)
    assert SCRIPT not in page and "<b>Co</b>" not in page and "MT<1>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&amp; &lt;b&gt;Co&lt;/b&gt;" in page
    assert "CP-000042" in page and "<title>Invoice CP-000042</title>" in page
    for text in ("1,234.56 EUR", "222.22 EUR", "1,456.78 EUR", "VAT 18 %", "Self-billed invoice",
                 "1 USD = 0.920000 EUR", "1 GBP = 1.160000 EUR"):
        assert text in page
    assert "<script" not in page.lower()


def test_html_is_self_contained_and_printable() -> None:
    page = invoice_html(standard())
    assert "@media print" in page and "@page" in page
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", page), "no external assets"


def test_html_of_a_reverse_charge_invoice_carries_the_wording() -> None:
    inv = build_invoice(closed_row(), [], affiliate(vat_reverse_charge=True), terms(), ISSUED)
    page = invoice_html(inv)
    assert REVERSE_CHARGE_NOTE in page and "VAT (reverse charge)" in page and "0.00 EUR" in page


def _page_text(pdf: bytes) -> bytes:
    """The content streams of a PDF, inflated where compressed."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(stream))
        except zlib.error:
            out.append(stream)
    return b"\n".join(out)


def test_pdf_holds_the_number_and_totals() -> None:
    pdf = invoice_pdf(standard(), compress=False)
    assert pdf.startswith(b"%PDF-")
    text = _page_text(pdf)
    for needle in (b"CP-000042", b"1,234.56 EUR", b"222.22 EUR", b"1,456.78 EUR", b"Self-billed invoice",
                   b"1 USD = 0.920000 EUR", b"Alpha Media Ltd"):
        assert needle in text


def test_pdf_compressed_inflates_to_the_same_text() -> None:
    pdf = invoice_pdf(standard())
    assert pdf.startswith(b"%PDF-") and b"1,456.78 EUR" not in pdf
    assert b"1,456.78 EUR" in _page_text(pdf)


def test_pdf_is_deterministic_for_the_same_invoice() -> None:
    """The creation date is the issue time, not the clock: the same invoice, the same bytes."""
    assert invoice_pdf(standard()) == invoice_pdf(standard())


def test_pdf_draws_a_western_european_name_with_the_builtin_font() -> None:
    pdf = invoice_pdf(standard(legal_name="Zoë Médias SàRL"), compress=False)
    assert "Zoë Médias SàRL".encode("cp1252") in _page_text(pdf)


def test_pdf_refuses_letters_the_builtin_font_lacks() -> None:
    with pytest.raises(InvoiceError, match="supplier address.*CLICKPATH_INVOICE_PDF_FONT"):
        invoice_pdf(standard(address="ul. Piotrkowska 1\nŁódź"))


@pytest.mark.skipif(not DEJAVU.is_file(), reason="Debian's fonts-dejavu-core is not installed")
def test_pdf_with_a_unicode_font_draws_any_name() -> None:
    pdf = invoice_pdf(standard(address="ul. Piotrkowska 1\nŁódź"), DEJAVU)
    assert pdf.startswith(b"%PDF-") and b"DejaVuSans" in pdf
