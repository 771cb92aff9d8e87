"""An invoice as CSV (for accounting imports) and as a printable HTML page. Pure: text in,
text out; the PDF is invoice_pdf.py.

The HTML escapes every value: names and addresses are typed by operators and affiliates, and a
page that ran a legal name as markup would run it in the finance team's browser. It loads
nothing (no fonts, scripts or images from elsewhere), so it prints the same offline.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from html import escape

from clickpath.contracts.money import minor_units
from clickpath.domain.commissions.invoices import FxLine, Invoice, Party

CSV_COLUMNS = ("invoice_number", "kind", "item", "description", "quantity", "amount", "currency")


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _places(amount: Decimal, currency: str) -> int:
    """The currency's minor unit, or more where the amount has more (never rounds it away)."""
    return max(minor_units(currency), _decimals(amount))


def amount_plain(amount: Decimal, currency: str) -> str:
    """`1234.56`, `123457` (JPY): machine-readable, at the currency's minor unit."""
    return f"{amount:.{_places(amount, currency)}f}"


def amount_text(amount: Decimal, currency: str) -> str:
    """`1,234.56 EUR`: for people."""
    return f"{amount:,.{_places(amount, currency)}f} {currency}"


def rate_text(rate: Decimal) -> str:
    """At least six decimals (the ledger's wire scale), more only where the rate has them."""
    return f"{rate:.{max(6, _decimals(rate))}f}"


def fx_text(fx: FxLine) -> str:
    return f"1 {fx.from_currency} = {rate_text(fx.rate)} {fx.to_currency}"


def percent_text(rate: Decimal) -> str:
    return f"{rate.normalize():f} %"


def vat_label(inv: Invoice) -> str:
    return "VAT (reverse charge)" if inv.reverse_charge else f"VAT {percent_text(inv.vat_rate)}"


def invoice_csv(inv: Invoice) -> str:
    """One row per invoice line (kind `line`, item the statement column), then `net`, `vat`
    and `gross`, then one `fx` row per recorded rate (amount: the rate). Amounts are plain
    decimals in the invoice currency, so the lines add up to `net` when parsed back."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    c = inv.currency
    for line in inv.lines:
        quantity = "" if line.quantity is None else str(line.quantity)
        writer.writerow([inv.number, "line", line.item, line.description, quantity,
                         amount_plain(line.amount, c), c])
    writer.writerow([inv.number, "net", "net", "Net total", "", amount_plain(inv.net, c), c])
    writer.writerow([inv.number, "vat", "vat", vat_label(inv), "", amount_plain(inv.vat, c), c])
    writer.writerow([inv.number, "gross", "gross", "Total due", "", amount_plain(inv.gross, c), c])
    for fx in inv.fx:
        writer.writerow([inv.number, "fx", f"{fx.from_currency}/{fx.to_currency}", fx_text(fx),
                         "", rate_text(fx.rate), fx.to_currency])
    return buffer.getvalue()


_CSS = """
body { font: 11pt/1.4 Helvetica, Arial, sans-serif; color: #111; margin: 2em auto; max-width: 48em; }
h1 { font-size: 18pt; margin: 0 0 .2em; }
.sub { color: #555; margin: 0 0 1.5em; }
.parties { display: flex; gap: 2em; margin-bottom: 1.5em; }
.parties section { flex: 1; border: 1px solid #ccc; padding: .6em .8em; }
.parties h2, .fx h2 { font-size: 9pt; text-transform: uppercase; color: #555; margin: 0 0 .3em; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.2em; }
th, td { border-bottom: 1px solid #ddd; padding: .35em .5em; text-align: left; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.total td { font-weight: bold; border-top: 2px solid #111; }
.notes p, .fx ul { margin: .3em 0; }
@page { size: A4; margin: 18mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  .parties section, table, .notes { break-inside: avoid; }
}
"""


def _party_html(title: str, party: Party) -> str:
    lines = [f"<h2>{escape(title)}</h2>", f"<strong>{escape(party.name)}</strong><br>",
             "<br>".join(escape(part) for part in party.address.splitlines())]
    if party.country:
        lines.append(f"<br>{escape(party.country)}")
    if party.vat_id:
        lines.append(f"<br>VAT number: {escape(party.vat_id)}")
    return "<section>" + "\n".join(lines) + "</section>"


def invoice_html(inv: Invoice) -> str:
    """A self-contained printable page (inline CSS with print rules, no external assets); every
    value goes through html.escape."""
    c = inv.currency
    rows = []
    for line in inv.lines:
        quantity = "" if line.quantity is None else str(line.quantity)
        rows.append(f"<tr><td>{escape(line.description)}</td><td class=\"num\">{quantity}</td>"
                    f"<td class=\"num\">{escape(amount_text(line.amount, c))}</td></tr>")
    totals = [("Net total", inv.net, ""), (vat_label(inv), inv.vat, ""),
              ("Total due", inv.gross, " class=\"total\"")]
    for label, amount, cls in totals:
        rows.append(f"<tr{cls}><td colspan=\"2\">{escape(label)}</td>"
                    f"<td class=\"num\">{escape(amount_text(amount, c))}</td></tr>")
    fx = ""
    if inv.fx:
        items = "".join(f"<li>{escape(fx_text(f))}</li>" for f in inv.fx)
        fx = ("<section class=\"fx\"><h2>Exchange rates recorded on the ledger entries</h2>"
              f"<ul>{items}</ul></section>")
    notes = "".join(f"<p>{escape(n)}</p>" for n in inv.notes)
    meta = (f"Invoice number <strong>{escape(inv.number)}</strong> · issued"
            f" {escape(inv.issue_date.isoformat())} · commission period {escape(inv.period)}"
            f" · affiliate {escape(inv.affiliate_id)} · currency {escape(c)}")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Invoice {escape(inv.number)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Self-billed invoice</h1>
<p class="sub">{meta}</p>
<div class="parties">
{_party_html("Supplier (affiliate)", inv.supplier)}
{_party_html("Customer (operator, issuer)", inv.customer)}
</div>
<table>
<thead><tr><th>Description</th><th class="num">Quantity</th><th class="num">Amount</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
{fx}
<section class="notes">{notes}</section>
</body>
</html>
"""
