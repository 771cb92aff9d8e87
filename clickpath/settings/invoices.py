"""Invoices: the operator's details as the customer on every self-billed invoice, the number
prefix, the VAT rate per affiliate country, and the PDF's font (docs/invoices.md).

Unset details do not stop a start (most deployments never invoice): issuing an invoice without
them is the error, naming the setting (domain/commissions/invoices.py).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, field_validator

from clickpath.domain.commissions.invoices import NUMBER_PREFIX_PATTERN, InvoiceTerms, Party


class InvoiceSettings(BaseModel):
    """Who the operator is on invoices, and the VAT rates; the period close numbers them."""

    invoice_operator_name: str = Field(
        default="", max_length=200, description="The operator's legal name: the invoices' customer."
    )
    invoice_operator_address: str = Field(
        default="", max_length=500, description="The operator's address (lines separated by newlines)."
    )
    invoice_operator_country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="The operator's ISO 3166-1 alpha-2 country."
    )
    invoice_operator_vat_id: str | None = Field(
        default=None, max_length=32, description="The operator's VAT number (needed for reverse charge)."
    )
    invoice_number_prefix: str = Field(
        default="CP", description="Invoice numbers are <prefix>-<sequence, six digits>: CP-000042."
    )
    vat_rates: dict[str, Decimal] = Field(
        default={}, description='Affiliate country -> VAT percent, e.g. {MT = "18", DE = "19"}.'
    )
    invoice_pdf_font: str | None = Field(
        default=None, description="A TrueType font file for PDF invoices (default: Helvetica,"
        " Western European letters only).",
    )

    @field_validator("invoice_number_prefix")
    @classmethod
    def _valid_prefix(cls, value: str) -> str:
        if not re.match(NUMBER_PREFIX_PATTERN, value):
            raise ValueError(f"must match {NUMBER_PREFIX_PATTERN} (letters, digits, - or _)")
        return value

    @field_validator("vat_rates", mode="before")
    @classmethod
    def _no_float_rates(cls, value: Any) -> Any:
        """A TOML float (18.5) is not the decimal the operator wrote: percent as strings."""
        if isinstance(value, dict):
            for country, rate in value.items():
                if isinstance(rate, float):
                    raise ValueError(f"vat_rates.{country}: write the percent as a string, e.g. \"{rate}\"")
        return value

    @field_validator("vat_rates")
    @classmethod
    def _valid_rates(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for country, rate in value.items():
            if not re.match(r"^[A-Z]{2}$", country):
                raise ValueError(f"vat_rates: {country[:16]!r} is not an ISO 3166-1 alpha-2 country (MT, DE)")
            if not rate.is_finite() or not Decimal(0) <= rate < Decimal(100):
                raise ValueError(f"vat_rates.{country}: {rate} is not a percent from 0 to under 100")
        return value

    def invoice_terms(self) -> InvoiceTerms:
        """The operator's details and rates as the invoice builder takes them."""
        return InvoiceTerms(
            operator=Party(name=self.invoice_operator_name, address=self.invoice_operator_address,
                           country=self.invoice_operator_country,
                           vat_id=self.invoice_operator_vat_id or None),
            vat_rates=dict(self.vat_rates),
        )
