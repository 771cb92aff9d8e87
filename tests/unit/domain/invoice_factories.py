"""Closed statement rows, affiliates and operator terms for the invoice tests: the shapes the
period close hands the invoice builder (amounts as decimal strings)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clickpath.domain.catalogue import AffiliateConfig
from clickpath.domain.commissions.invoices import InvoiceTerms, Party

ISSUED = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def closed_row(**overrides: Any) -> dict[str, Any]:
    """Every column set; total their exact sum (1234.56)."""
    row: dict[str, Any] = {
        "affiliate_id": "aff-1", "period": "2026-11", "currency": "EUR", "cpa_count": 3,
        "cpa_amount": "300.00", "revshare_amount": "1012.34", "sub_affiliate_amount": "45.67",
        "clawback_amount": "-100.00", "carry_over": "-20.00", "manual_amount": "12.50",
        "roll_over": "-15.95", "total": "1234.56", "status": "closed", "entries": 9,
        "invoice_number": "CP-000042", "closed_at": "2026-12-01T00:05:00Z", "closed_by": "ops@op",
    }
    row.update(overrides)
    return row


def affiliate(**overrides: Any) -> AffiliateConfig:
    fields: dict[str, Any] = {
        "name": "Alpha", "legal_name": "Alpha Media Ltd", "address": "1 Triq il-Kbira\nValletta VLT 1000",
        "country": "MT", "vat_id": "MT12345678",
    }
    fields.update(overrides)
    return AffiliateConfig(**fields)


def terms(**rates: str) -> InvoiceTerms:
    return InvoiceTerms(
        operator=Party(name="Operator Gaming plc", address="2 Tower Road\nSliema SLM 1605",
                       country="MT", vat_id="MT87654321"),
        vat_rates={country: Decimal(rate) for country, rate in (rates or {"MT": "18"}).items()},
    )


def entry(
    amount: str, original_currency: str = "EUR", fx_rate: str = "1", **overrides: Any
) -> dict[str, Any]:
    """An entry as entry_json gives it (only the fields the invoice reads, and a few more)."""
    e: dict[str, Any] = {
        "entry_id": f"e-{amount}-{original_currency}-{fx_rate}", "affiliate_id": "aff-1",
        "period": "2026-11", "kind": "accrual", "component": "cpa", "amount": amount,
        "currency": "EUR", "original_amount": amount, "original_currency": original_currency,
        "fx_rate": fx_rate, "reason": None,
    }
    e.update(overrides)
    return e
