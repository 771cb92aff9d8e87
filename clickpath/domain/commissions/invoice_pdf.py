"""An invoice as a PDF (A4), drawn with fpdf2: pure Python, no browser or system library.

The built-in Helvetica covers Windows-1252 only (Western European letters, the euro sign). A
name or address outside it (Łódź, Cyrillic, CJK) is an InvoiceError naming the field, never a
PDF with the letters dropped or replaced: set a Unicode TrueType font
(CLICKPATH_INVOICE_PDF_FONT, e.g. DejaVuSans.ttf) and the same invoice renders. That font
file, named by the caller, is the one thing read here; the creation date is the issue time,
so the same invoice gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from clickpath.domain.commissions.invoice_render import amount_text, fx_text, vat_label
from clickpath.domain.commissions.invoices import Invoice, InvoiceError, Party

CORE_ENCODING = "windows-1252"
_FAMILY = "invoice"


def _check_core_text(inv: Invoice) -> None:
    """Every text Helvetica must draw, by where it comes from, so that the error names it."""
    fields = {
        "supplier name (legal_name)": inv.supplier.name, "supplier address": inv.supplier.address,
        "supplier VAT number": inv.supplier.vat_id or "", "customer name": inv.customer.name,
        "customer address": inv.customer.address, "customer VAT number": inv.customer.vat_id or "",
        "affiliate id": inv.affiliate_id, "invoice number": inv.number,
    }
    for name, text in fields.items():
        try:
            text.encode(CORE_ENCODING)
        except UnicodeEncodeError:
            raise InvoiceError(
                f"invoice {inv.number}: the {name} has characters the built-in PDF font cannot"
                " draw: set CLICKPATH_INVOICE_PDF_FONT to a Unicode TrueType font (the HTML"
                " invoice shows it as it is)"
            ) from None


def invoice_pdf(inv: Invoice, font: str | Path | None = None, *, compress: bool = True) -> bytes:
    """The invoice as PDF bytes. `font`: a TrueType file for every text (None: Helvetica,
    Windows-1252 only). `compress=False` leaves the page text readable in the bytes (tests)."""
    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    pdf.set_creation_date(inv.issued_at)
    pdf.set_title(f"Invoice {inv.number}")
    pdf.set_author(inv.customer.name)
    if font is None:
        _check_core_text(inv)
        pdf.core_fonts_encoding = CORE_ENCODING
        family = "helvetica"
    else:
        family = _FAMILY
        pdf.add_font(_FAMILY, "", str(font))
        pdf.add_font(_FAMILY, "B", str(font))  # one face: headings are set apart by size
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font(family, "B", 16)
    pdf.cell(width, 9, "Self-billed invoice", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, "", 9)
    pdf.multi_cell(width, 5, f"Invoice number {inv.number}  ·  issued {inv.issue_date.isoformat()}"
                   f"  ·  commission period {inv.period}  ·  affiliate {inv.affiliate_id}"
                   f"  ·  currency {inv.currency}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    top, half = pdf.get_y(), (width - 6) / 2
    _party(pdf, family, "SUPPLIER (AFFILIATE)", inv.supplier, pdf.l_margin, top, half)
    left_end = pdf.get_y()
    _party(pdf, family, "CUSTOMER (OPERATOR, ISSUER)", inv.customer, pdf.l_margin + half + 6, top, half)
    pdf.set_xy(pdf.l_margin, max(left_end, pdf.get_y()) + 6)

    amount_w, quantity_w = 45.0, 25.0
    text_w = width - amount_w - quantity_w
    pdf.set_font(family, "B", 10)
    pdf.cell(text_w, 7, "Description", border="B")
    pdf.cell(quantity_w, 7, "Quantity", border="B", align="R")
    pdf.cell(amount_w, 7, "Amount", border="B", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, "", 10)
    for line in inv.lines:
        pdf.cell(text_w, 7, line.description)
        pdf.cell(quantity_w, 7, "" if line.quantity is None else str(line.quantity), align="R")
        pdf.cell(amount_w, 7, amount_text(line.amount, inv.currency), align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    totals = (("Net total", inv.net), (vat_label(inv), inv.vat), ("Total due", inv.gross))
    for index, (label, amount) in enumerate(totals):
        last = index == len(totals) - 1
        pdf.set_font(family, "B" if last else "", 11 if last else 10)
        pdf.cell(text_w + quantity_w, 7, label, border="T" if index in (0, 2) else 0)
        pdf.cell(amount_w, 7, amount_text(amount, inv.currency), align="R",
                 border="T" if index in (0, 2) else 0, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    if inv.fx:
        pdf.ln(4)
        pdf.set_font(family, "B", 9)
        pdf.cell(width, 6, "Exchange rates recorded on the ledger entries",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(family, "", 9)
        for fx in inv.fx:
            pdf.cell(width, 5, fx_text(fx), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font(family, "", 9)
    for note in inv.notes:
        pdf.multi_cell(width, 5, note, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _party(pdf: FPDF, family: str, title: str, party: Party, x: float, y: float, w: float) -> None:
    pdf.set_xy(x, y)
    pdf.set_font(family, "B", 8)
    pdf.cell(w, 5, title, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(family, "B", 10)
    pdf.multi_cell(w, 5, party.name, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(family, "", 10)
    details = [party.address]
    if party.country:
        details.append(party.country)
    if party.vat_id:
        details.append(f"VAT number: {party.vat_id}")
    pdf.multi_cell(w, 5, "\n".join(details), new_x=XPos.LEFT, new_y=YPos.NEXT)
