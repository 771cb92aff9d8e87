"""Invoices for closed statement rows: the model, its VAT and its FX lines. Pure: no I/O, no
clock (the issue time is an argument), no numbering of its own.

An invoice is **self-billed**: the operator issues it on the affiliate's behalf (the affiliate
supplies the marketing service, so it is the supplier; the operator is the customer), as
affiliate platforms do at period close, and it says so ("Self-billed invoice", the mention
Article 226(10a) of Directive 2006/112/EC asks for; Article 224 requires a prior agreement
with the affiliate, which is the operator's to have).

It never invents a number, a rate or a party: the gapless number comes with the closed row
(the period close allocates it; `invoice_number` formats it), the VAT rate from the operator's
settings for the affiliate's country, and a missing one is an `InvoiceError` naming what to
set, never a silent 0 %. Amounts are `Decimal` in the row's payout currency: the ledger's
entries were converted when written, so the invoice only lists the recorded FX rates. No
player appears on it: a statement row is per affiliate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict

from clickpath.contracts.models import LedgerEntry
from clickpath.contracts.money import round_to_minor
from clickpath.domain.catalogue import AffiliateConfig

SELF_BILLING_NOTE = (
    "Self-billed invoice: issued by the customer on behalf of the supplier under a"
    " self-billing agreement (Article 224 Council Directive 2006/112/EC)."
)
REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient, Article 196 Council Directive"
    " 2006/112/EC"
)
NUMBER_PREFIX_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$"

# The closed row's amount columns in the order an invoice lists them, with each line's text.
# `total` is their exact sum; manual_amount and roll_over may be missing (rows closed before
# them): 0. A column not listed here makes the sum check fail, so none is dropped unseen.
LINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("cpa_amount", "CPA"),
    ("revshare_amount", "Revenue share"),
    ("sub_affiliate_amount", "Sub-affiliate commission"),
    ("clawback_amount", "Clawbacks"),
    ("carry_over", "Negative carry-over"),
    ("manual_amount", "Adjustments"),
    ("roll_over", "Roll-over"),
)


class InvoiceError(ValueError):
    """An invoice that must not be issued as asked, with what to change (a setting, a field)."""


class Party(BaseModel):
    """Who supplies or receives: the name, address and VAT number printed on the invoice."""

    model_config = ConfigDict(frozen=True)
    name: str
    address: str
    country: str | None = None
    vat_id: str | None = None


class InvoiceTerms(BaseModel):
    """The operator's invoicing details (from settings): the customer on every invoice, and
    the VAT rate in percent per affiliate country (ISO 3166-1 alpha-2)."""

    model_config = ConfigDict(frozen=True)
    operator: Party
    vat_rates: Mapping[str, Decimal] = {}


class InvoiceLine(BaseModel):
    """One non-zero column of the statement: `item` names the column, `quantity` the CPA
    count (None elsewhere: the amounts are period sums, not unit prices)."""

    model_config = ConfigDict(frozen=True)
    item: str
    description: str
    quantity: int | None
    amount: Decimal


class FxLine(BaseModel):
    """A rate recorded on the statement's entries: 1 `from_currency` = `rate` `to_currency`."""

    model_config = ConfigDict(frozen=True)
    from_currency: str
    to_currency: str
    rate: Decimal


class Invoice(BaseModel):
    model_config = ConfigDict(frozen=True)
    number: str
    issued_at: datetime
    affiliate_id: str
    period: str
    closed_at: str
    supplier: Party
    customer: Party
    currency: str
    lines: tuple[InvoiceLine, ...]
    net: Decimal
    vat_rate: Decimal  # percent; 0 under reverse charge
    vat: Decimal
    gross: Decimal
    reverse_charge: bool
    fx: tuple[FxLine, ...]
    notes: tuple[str, ...]

    @property
    def issue_date(self) -> date:
        return self.issued_at.astimezone(UTC).date()


def invoice_number(prefix: str, sequence: int) -> str:
    """`CP-000042`: the prefix, a hyphen, the sequence zero-padded to six digits (wider past
    999999). The period close keeps the gapless sequence; this only spells it, the same way
    everywhere, so that a number is never formatted twice differently."""
    if not re.match(NUMBER_PREFIX_PATTERN, prefix):
        raise InvoiceError(f"invoice number prefix {prefix[:40]!r} must match {NUMBER_PREFIX_PATTERN}")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise InvoiceError(f"invoice sequence must be a whole number from 1, not {sequence!r}")
    return f"{prefix}-{sequence:06d}"


def build_invoice(
    row: Mapping[str, Any],
    entries: Iterable[Mapping[str, Any] | LedgerEntry],
    affiliate: AffiliateConfig,
    terms: InvoiceTerms,
    issued_at: datetime,
) -> Invoice:
    """The invoice of a closed statement row (its JSON: amounts as decimal strings).

    `entries` are the row's ledger entries (entry_json dicts or LedgerEntry); only those in the
    row's affiliate, period and currency count, for their recorded FX rates. InvoiceError when
    the row is not closed or has no number, its columns do not add up to `total`, the total is
    not positive, a party's details are missing, or no VAT rate applies.
    """
    affiliate_id = _text(row, "affiliate_id")
    period, currency = _text(row, "period"), _text(row, "currency")
    number = str(row.get("invoice_number") or "")
    if not number or not row.get("closed_at"):
        raise InvoiceError(
            f"statement row of {affiliate_id} for {period} ({currency}) is not closed: an invoice"
            " needs the invoice_number and closed_at that closing the period gives it"
        )
    if issued_at.tzinfo is None:
        raise InvoiceError("issued_at must carry a time zone (UTC)")
    lines, net = _lines(row, affiliate_id)
    if net <= 0:
        raise InvoiceError(
            f"statement row of {affiliate_id} for {period} totals {net} {currency}: nothing to"
            " invoice (an invoice is only issued for a positive total)"
        )
    supplier = _supplier(affiliate_id, affiliate)
    customer = _customer(terms)
    reverse = affiliate.vat_reverse_charge
    rate = Decimal(0) if reverse else _vat_rate(affiliate_id, affiliate, terms)
    if reverse:
        _check_reverse_charge(affiliate_id, supplier, customer)
    vat = round_to_minor(net * rate / 100, currency)
    notes = (SELF_BILLING_NOTE, REVERSE_CHARGE_NOTE) if reverse else (SELF_BILLING_NOTE,)
    return Invoice(
        number=number, issued_at=issued_at.astimezone(UTC), affiliate_id=affiliate_id,
        period=period, closed_at=str(row["closed_at"]), supplier=supplier, customer=customer,
        currency=currency, lines=lines, net=net, vat_rate=rate, vat=vat, gross=net + vat,
        reverse_charge=reverse, fx=fx_lines(entries, affiliate_id, period, currency),
        notes=notes,
    )


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value:
        raise InvoiceError(f"statement row has no {name}")
    return value


def _amount(value: Any, name: str) -> Decimal:
    """A decimal string, Decimal or int: never a float, whose binary value is not the amount."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, float | bool):
        raise InvoiceError(f"{name} must be a decimal string such as '125.00', not {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvoiceError(f"{name} is not an amount: {str(value)[:40]!r}") from None
    if not amount.is_finite():
        raise InvoiceError(f"{name} is not an amount: {value!r}")
    return amount


def _lines(row: Mapping[str, Any], affiliate_id: str) -> tuple[tuple[InvoiceLine, ...], Decimal]:
    """One line per non-zero column; the net is the row's `total`, checked to be their sum."""
    lines = []
    for column, text in LINE_COLUMNS:
        amount = _amount(row.get(column), column)
        if amount == 0:
            continue
        quantity = None
        if column == "cpa_amount":
            quantity = int(row.get("cpa_count") or 0)
            text = f"CPA ({quantity} player{'' if quantity == 1 else 's'})"
        elif column == "roll_over":
            text = "Roll-over from previous periods" if amount > 0 else "Roll-over to the next period"
        lines.append(InvoiceLine(item=column, description=text, quantity=quantity, amount=amount))
    total = _amount(row.get("total"), "total")
    summed = sum((line.amount for line in lines), Decimal(0))
    if summed != total:
        raise InvoiceError(
            f"statement row of {affiliate_id}: the amount columns add up to {summed}, not its"
            f" total {total} (a column this invoice does not know?)"
        )
    return tuple(lines), total


def _supplier(affiliate_id: str, affiliate: AffiliateConfig) -> Party:
    for field in ("legal_name", "address"):
        if not getattr(affiliate, field).strip():
            raise InvoiceError(
                f"affiliate {affiliate_id} has no {field}: set affiliates.{affiliate_id}.{field}"
                " (an invoice names its supplier in full)"
            )
    return Party(name=affiliate.legal_name.strip(), address=affiliate.address.strip(),
                 country=affiliate.country, vat_id=affiliate.vat_id or None)


def _customer(terms: InvoiceTerms) -> Party:
    operator = terms.operator
    for field, setting in (("name", "INVOICE_OPERATOR_NAME"), ("address", "INVOICE_OPERATOR_ADDRESS")):
        if not getattr(operator, field).strip():
            raise InvoiceError(
                f"the operator's invoice {field} is not set: set CLICKPATH_{setting}"
                " (the customer on every self-billed invoice)"
            )
    return operator


def _vat_rate(affiliate_id: str, affiliate: AffiliateConfig, terms: InvoiceTerms) -> Decimal:
    """The configured rate of the affiliate's country; never a default, since a wrong rate
    on an issued invoice is worse than no invoice."""
    country = affiliate.country
    if country is None:
        raise InvoiceError(
            f"affiliate {affiliate_id} has no country: set affiliates.{affiliate_id}.country"
            " (ISO 3166-1 alpha-2) so that its VAT rate is known, or vat_reverse_charge = true"
        )
    rate = terms.vat_rates.get(country)
    if rate is None:
        raise InvoiceError(
            f"no VAT rate for {country} (affiliate {affiliate_id}): add {country} to"
            f' CLICKPATH_VAT_RATES ([vat_rates] {country} = "…", percent; "0" where no VAT is due)'
        )
    return rate


def _check_reverse_charge(affiliate_id: str, supplier: Party, customer: Party) -> None:
    """A reverse-charge invoice names both VAT numbers (Article 226(3) and (4)): the recipient
    accounts for the VAT under its own."""
    if not supplier.vat_id:
        raise InvoiceError(f"affiliate {affiliate_id} is reverse charge but has no vat_id:"
                           f" set affiliates.{affiliate_id}.vat_id")
    if not customer.vat_id:
        raise InvoiceError("reverse-charge invoices need the operator's VAT number: set"
                           " CLICKPATH_INVOICE_OPERATOR_VAT_ID")


def fx_lines(
    entries: Iterable[Mapping[str, Any] | LedgerEntry], affiliate_id: str, period: str,
    currency: str,
) -> tuple[FxLine, ...]:
    """Each distinct rate recorded on the row's converted entries (original currency other
    than the payout currency), by currency then rate: CPAs are converted at the rate of their
    qualifying day, RevShare at the period's first day's, so one currency may have several."""
    seen: set[tuple[str, Decimal]] = set()
    for e in entries:
        d = e.model_dump() if isinstance(e, LedgerEntry) else e
        if (d.get("affiliate_id", affiliate_id), d.get("period", period)) != (affiliate_id, period):
            continue
        original = d.get("original_currency")
        if d.get("currency") != currency or not original or original == currency:
            continue
        rate = _amount(d.get("fx_rate"), "fx_rate")
        if rate <= 0:
            raise InvoiceError(f"entry {d.get('entry_id')} converts {original} with no fx_rate")
        seen.add((str(original), rate.normalize()))
    return tuple(FxLine(from_currency=c, to_currency=currency, rate=r) for c, r in sorted(seen))
