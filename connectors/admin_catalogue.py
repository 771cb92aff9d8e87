"""The catalogue admin API: add and change affiliates and campaigns (admin key), effective at
once and kept in `<data_dir>/catalogue.json` (connectors/catalogue.py).

Mounted by the tracker's router on the tracker's own `CatalogueStore`, so a change is seen by
the very next click without waiting for the file's modification time to move.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from clickpath.connectors.auth import Problem, require_role
from clickpath.connectors.catalogue import CatalogueError, CatalogueStore
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.contracts.models import Currency
from clickpath.domain.catalogue import CATALOGUE_ID_PATTERN, AffiliateConfig, CampaignConfig
from clickpath.domain.tracking import Catalogue, tracking_links

log = structlog.get_logger(__name__)


ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No, unknown or revoked API key."},
    403: {"model": Problem, "description": "Not an admin key."},
    404: {"model": Problem, "description": "No such affiliate or campaign."},
}


class AffiliateChange(BaseModel):
    """Admin: the affiliate fields the API may set. Postback URLs stay in configuration, which
    is where the delivery engine reads them."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=200)
    parent_id: str | None = Field(default=None, pattern=CATALOGUE_ID_PATTERN, max_length=128)
    payout_currency: Currency | None = None
    min_payout: Decimal | None = Field(default=None, ge=0, max_digits=20, decimal_places=6)
    legal_name: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=500)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    vat_id: str | None = Field(default=None, max_length=32)
    vat_reverse_charge: bool = False


class CampaignChange(BaseModel):
    """Admin: the campaign fields to change (PATCH); the rest stay."""

    model_config = ConfigDict(extra="forbid")
    brand_id: str | None = None
    landing_url: str | None = None
    tracking_code: str | None = None


AffiliateId = Path(pattern=CATALOGUE_ID_PATTERN, description="Affiliate id, URL-safe.")
CampaignId = Path(pattern=CATALOGUE_ID_PATTERN, description="Campaign id, URL-safe.")


def admin_catalogue_router(ctx: IngressContext, store: CatalogueStore) -> APIRouter:
    router = APIRouter()
    admin = require_role(ctx.keys, "admin", "admin")
    base_url = ctx.settings.tracker_url

    @router.get(
        "/v1/admin/affiliates", tags=["admin"], dependencies=[Depends(admin)], responses=ADMIN_RESPONSES
    )
    def list_affiliates() -> dict[str, Any]:
        """Every affiliate and campaign in effect (configuration plus admin changes)."""
        catalogue = store.current()
        return {
            "affiliates": [
                _affiliate_view(a, catalogue.affiliates[a], base_url) for a in sorted(catalogue.affiliates)
            ]
        }

    @router.get(
        "/v1/admin/affiliates/{affiliate_id}",
        tags=["admin"],
        dependencies=[Depends(admin)],
        responses=ADMIN_RESPONSES,
    )
    def get_affiliate(affiliate_id: str = AffiliateId) -> Response:
        affiliate = store.current().affiliates.get(affiliate_id)
        if affiliate is None:
            return JSONResponse({"detail": f"no affiliate {affiliate_id!r}"}, 404)
        return JSONResponse(_affiliate_view(affiliate_id, affiliate, base_url))

    @router.put(
        "/v1/admin/affiliates/{affiliate_id}",
        tags=["admin"],
        responses={**ADMIN_RESPONSES, 201: {"description": "Added."}},
    )
    def put_affiliate(
        change: AffiliateChange, request: Request, affiliate_id: str = AffiliateId,
        key: ApiKey = Depends(admin),
    ) -> Response:
        """Add an affiliate, or change its name, parent (sub-affiliates), payout currency, minimum
        payout or invoice details (legal name, address, country, VAT id, reverse charge)."""
        try:
            changes = change.model_dump(mode="json", exclude_unset=True)
            affiliate, created = store.put_affiliate(affiliate_id, changes)
        except CatalogueError as e:
            return _catalogue_error(e)
        log.info("catalogue_affiliate_put", affiliate_id=affiliate_id, created=created)
        # The fields' names only: invoice details may name a person (a sole trader).
        ctx.record(request, key, kind="catalogue.affiliate_changed", subject=f"affiliate:{affiliate_id}",
                   detail={"created": created, "fields": sorted(changes)})
        return JSONResponse(_affiliate_view(affiliate_id, affiliate, base_url), 201 if created else 200)

    @router.put(
        "/v1/admin/affiliates/{affiliate_id}/campaigns/{campaign_id}",
        tags=["admin"],
        responses={**ADMIN_RESPONSES, 201: {"description": "Added."}},
    )
    def put_campaign(
        campaign: CampaignConfig, request: Request, affiliate_id: str = AffiliateId,
        campaign_id: str = CampaignId, key: ApiKey = Depends(admin),
    ) -> Response:
        """Add a campaign to an affiliate, or replace it; its links work at once."""
        try:
            saved, created = store.put_campaign(affiliate_id, campaign_id, campaign)
        except CatalogueError as e:
            return _catalogue_error(e)
        log.info("catalogue_campaign_put", affiliate_id=affiliate_id, campaign_id=campaign_id)
        ctx.record(request, key, kind="catalogue.campaign_changed",
                   subject=f"campaign:{affiliate_id}/{campaign_id}",
                   detail={"created": created, "replaced": not created, "brand_id": saved.brand_id,
                           "tracking_code": saved.tracking_code})
        return JSONResponse(
            _campaign_view(affiliate_id, campaign_id, saved, base_url), 201 if created else 200
        )

    @router.patch(
        "/v1/admin/affiliates/{affiliate_id}/campaigns/{campaign_id}",
        tags=["admin"],
        responses=ADMIN_RESPONSES,
    )
    def patch_campaign(
        change: CampaignChange, request: Request, affiliate_id: str = AffiliateId,
        campaign_id: str = CampaignId, key: ApiKey = Depends(admin),
    ) -> Response:
        """Change some fields of a campaign (e.g. its landing URL); effective at once."""
        fields = change.model_dump(exclude_unset=True)
        try:
            saved = store.patch_campaign(affiliate_id, campaign_id, fields)
        except CatalogueError as e:
            return _catalogue_error(e)
        log.info("catalogue_campaign_patched", affiliate_id=affiliate_id, campaign_id=campaign_id)
        ctx.record(request, key, kind="catalogue.campaign_changed",
                   subject=f"campaign:{affiliate_id}/{campaign_id}",
                   detail={"created": False, "fields": sorted(fields)})
        return JSONResponse(_campaign_view(affiliate_id, campaign_id, saved, base_url))

    return router


def _catalogue_error(e: CatalogueError) -> JSONResponse:
    where = "path" if e.field in ("affiliate_id", "campaign_id") else "body"
    if e.status == 404:
        return JSONResponse({"detail": e.reason}, 404)
    return JSONResponse(
        {"detail": [{"loc": [where, *e.field.split(".")], "msg": e.reason, "type": "value_error"}]}, e.status
    )


def _campaign_view(
    affiliate_id: str, campaign_id: str, campaign: CampaignConfig, base_url: str
) -> dict[str, Any]:
    affiliate = AffiliateConfig(campaigns={campaign_id: campaign})
    [link] = tracking_links(Catalogue.build({affiliate_id: affiliate}), base_url)
    return {
        "affiliate_id": affiliate_id,
        "campaign_id": campaign_id,
        **campaign.model_dump(mode="json"),
        "url": link["url"],
        "query_url": link["query_url"],
    }


def _affiliate_view(affiliate_id: str, affiliate: AffiliateConfig, base_url: str) -> dict[str, Any]:
    return {
        "affiliate_id": affiliate_id,
        "name": affiliate.name,
        "postback_url": affiliate.postback_url,
        "postback_events": affiliate.postback_events,
        "parent_id": affiliate.parent_id,
        "payout_currency": affiliate.payout_currency,
        "min_payout": None if affiliate.min_payout is None else f"{affiliate.min_payout:f}",
        "legal_name": affiliate.legal_name,
        "address": affiliate.address,
        "country": affiliate.country,
        "vat_id": affiliate.vat_id,
        "vat_reverse_charge": affiliate.vat_reverse_charge,
        "campaigns": [
            _campaign_view(affiliate_id, c, affiliate.campaigns[c], base_url)
            for c in sorted(affiliate.campaigns)
        ],
    }
