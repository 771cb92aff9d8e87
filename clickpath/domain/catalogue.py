"""Affiliates and campaigns as configured: validated models, no storage.

The tracker, the catalogue store and the settings all read these; ids are short and URL-safe
because they appear in tracking links and topic keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clickpath.contracts.models import Currency
from clickpath.domain.landing import validate_landing_template
from clickpath.domain.postback_template import validate_template

# Affiliate and campaign ids appear in tracking links and topics: short and URL-safe.
CATALOGUE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class CampaignConfig(BaseModel):
    """One campaign of an affiliate: the brand its clicks are for and where they land."""

    model_config = ConfigDict(extra="forbid")

    brand_id: str = Field(pattern=CATALOGUE_ID_PATTERN, description="The operator brand.")
    landing_url: str = Field(
        max_length=1024,
        description="Landing URL template; macros {click_id} {sub1}..{sub5} {affiliate_id} "
        "{campaign_id} {brand_id} {tracking_code}, filled URL-encoded.",
    )
    tracking_code: str | None = Field(
        default=None,
        pattern=CATALOGUE_ID_PATTERN,
        description="Short code of the link /c/<code>; unique across all campaigns.",
    )

    @field_validator("landing_url")
    @classmethod
    def _known_landing_macros(cls, value: str) -> str:
        return validate_landing_template(value)


class AffiliateConfig(BaseModel):
    """One affiliate: its name, where its server-to-server postbacks go, its campaigns."""

    name: str = ""
    postback_url: str | None = Field(
        default=None,
        description="URL template with macros such as {click_id} {event} {amount} {currency}.",
    )
    postback_events: list[Literal["registration", "ftd"]] = ["registration", "ftd"]
    campaigns: dict[str, CampaignConfig] = Field(
        default={}, description="Campaign id -> campaign; the click tracker's links."
    )
    parent_id: str | None = Field(
        default=None, description="The affiliate that brought this one (sub-affiliate): it earns"
        " its plan's sub_affiliate_share of this affiliate's commission (docs/commissions.md).",
    )
    payout_currency: Currency | None = Field(
        default=None, description="The currency this affiliate is paid in (default: the"
        " reporting currency, else the plan's).",
    )
    min_payout: Decimal | None = Field(
        default=None, ge=0, max_digits=20, decimal_places=6,
        description="The least a closed statement row pays, in the row's currency; a total"
        " under it rolls over into the next period (docs/commissions.md#close-and-pay).",
    )
    legal_name: str = Field(default="", max_length=200, description="The name on invoices.")
    address: str = Field(default="", max_length=500, description="The address on invoices.")
    country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 country: picks the invoice's VAT rate.",
    )
    vat_id: str | None = Field(default=None, max_length=32, description="VAT number on invoices.")
    vat_reverse_charge: bool = Field(
        default=False, description="Invoices carry no VAT: the recipient accounts for it.",
    )

    @field_validator("postback_url")
    @classmethod
    def _known_macros(cls, value: str | None) -> str | None:
        if value is not None:
            validate_template(value)
        return value

    @field_validator("campaigns")
    @classmethod
    def _campaign_ids(cls, value: dict[str, CampaignConfig]) -> dict[str, CampaignConfig]:
        for campaign_id in value:
            if not re.match(CATALOGUE_ID_PATTERN, campaign_id):
                raise ValueError(f"campaign id {campaign_id!r} must match {CATALOGUE_ID_PATTERN}")
        return value


def parent_problems(affiliates: Mapping[str, AffiliateConfig]) -> list[str]:
    """What is wrong with the catalogue's sub-affiliate links: an unknown parent, or a cycle."""
    problems = []
    for affiliate_id, affiliate in affiliates.items():
        parent = affiliate.parent_id
        if parent is not None and parent not in affiliates:
            problems.append(f"affiliates.{affiliate_id}.parent_id: no affiliate {parent!r}")
            continue
        seen = {affiliate_id}
        while parent is not None and parent in affiliates:
            if parent in seen:
                problems.append(f"affiliates.{affiliate_id}.parent_id: a cycle through {parent!r}")
                break
            seen.add(parent)
            parent = affiliates[parent].parent_id
    return problems


def tracking_code_clashes(affiliates: dict[str, AffiliateConfig]) -> list[str]:
    """Tracking codes used by more than one campaign, described; a code must name one link."""
    owners: dict[str, list[str]] = {}
    for affiliate_id, affiliate in affiliates.items():
        for campaign_id, campaign in affiliate.campaigns.items():
            if campaign.tracking_code:
                owners.setdefault(campaign.tracking_code, []).append(f"{affiliate_id}/{campaign_id}")
    return [f"{code!r} is used by {', '.join(o)}" for code, o in owners.items() if len(o) > 1]
