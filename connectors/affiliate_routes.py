"""The affiliate portal's routes: an affiliate's players with their status and reason codes
(`GET /v1/affiliate/players`), and its postback endpoints with their recent deliveries
(`GET /v1/affiliate/postbacks`); docs/affiliate-api.md.

Who reads what comes from the key, never from the query: an affiliate key reads its own
affiliate only (an `affiliate_id` naming another is a 403), within its brand if it has one; an
admin key names the affiliate with `affiliate_id`. Operator and analyst keys are brand-bound
and an affiliate's players span brands: they read none of this (403). Players are shown by
their per-affiliate token only, and a player who withdrew `affiliate_data_sharing` consent is
counted in `totals.withheld` and never listed (infra/affiliate_players.py). Endpoints are
shown without their signing secrets, credentials in their URLs masked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from clickpath.connectors.analyst_routes import RESPONSES, ask, invalid
from clickpath.connectors.auth import report_scope, require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.contracts.models.commissions import PlayerStatus
from clickpath.domain.commissions.status import REASON_CODES
from clickpath.domain.endpoints import Endpoint
from clickpath.domain.redact import MASK, credential_name, mask_url
from clickpath.infra.affiliate_players import MAX_LIMIT
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.infra.report_slots import ReportSlots
from clickpath.infra.reports import affiliate_delivery_rows, affiliate_player_rows

DOOR = "affiliate"
AFFILIATE_DOC = "admin keys: the affiliate (required); affiliate keys: their own, or omitted"


def endpoint_view(e: Endpoint) -> dict[str, Any]:
    """An endpoint as its affiliate may see it: no secret, credentials in the URL and in preset
    overrides masked; `signed` says whether requests are signed."""
    return {
        "endpoint_id": e.endpoint_id, "url": mask_url(e.url), "method": e.method,
        "body": e.body, "events": list(e.events), "preset": e.preset,
        "params": {k: MASK if credential_name(k) else v for k, v in e.params.items()},
        "enabled": e.enabled, "disabled_reason": e.disabled_reason,
        "disabled_at": e.disabled_at.isoformat() if e.disabled_at else None,
        "signed": bool(e.secret),
    }


def affiliate_router(ctx: IngressContext) -> APIRouter:
    settings = ctx.settings
    router = APIRouter(tags=["affiliate"])
    slots = ReportSlots()
    reader = require_role(ctx.keys, DOOR, "admin", "affiliate")
    store = EndpointStore.from_settings(settings)

    def affiliate_of(key: ApiKey, asked: str | None) -> tuple[str, str | None]:
        """(affiliate, brand) the key reads: an admin's must be named; an affiliate key's is
        its own, whatever the query says (another one named is refused)."""
        if key.role == "admin":
            if not asked:
                raise invalid("affiliate_id", "an admin key names the affiliate", asked)
            return asked, None
        scope = report_scope(key, None)
        assert scope.affiliate_id is not None  # report_scope refuses an affiliate key without
        if asked is not None and asked != scope.affiliate_id:
            raise HTTPException(403, f"this key reads affiliate {scope.affiliate_id!r} only")
        return scope.affiliate_id, scope.brand_id

    @router.get("/v1/affiliate/players", responses=RESPONSES)
    async def affiliate_players(
        affiliate_id: str | None = Query(None, description=AFFILIATE_DOC),
        status: PlayerStatus | None = Query(None, description="only players with this status"),
        reason: str | None = Query(None, description="only players with this reason code"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0, le=10_000_000),
        key: ApiKey = Depends(reader),
    ) -> dict[str, Any]:
        """The affiliate's players and why each does or does not earn it a CPA: `players`
        (`player_token`, `brand_id`, `campaign_id`, `registered_at`, `status`, `reasons`,
        `cpa_amount`, `currency`, `qualified_at`), newest registration first, and `totals`
        (`players`, one count per status, `withheld`: players who withdrew
        affiliate_data_sharing consent, counted but never listed; `matching`: the rows the
        filters match, for paging)."""
        if reason is not None and reason not in REASON_CODES:
            raise invalid("reason", f"unknown reason code: one of {', '.join(REASON_CODES)}", reason)
        affiliate, brand = affiliate_of(key, affiliate_id)
        answer: dict[str, Any] = await ask(
            slots, key, report_scope(key, None), affiliate_player_rows, settings,
            affiliate_id=affiliate, brand_id=brand, status=status, reason=reason, limit=limit,
            offset=offset,
        )
        return {"affiliate_id": affiliate, "limit": limit, "offset": offset, **answer}

    @router.get("/v1/affiliate/postbacks", responses=RESPONSES)
    async def affiliate_postbacks(
        affiliate_id: str | None = Query(None, description=AFFILIATE_DOC),
        since: datetime | None = Query(None, description="deliveries last attempted since"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        key: ApiKey = Depends(reader),
    ) -> dict[str, Any]:
        """The affiliate's postback endpoints (no secrets; credentials in URLs masked) and its
        recent deliveries, one per postback sent, the latest first: `event`, `status` (the last
        attempt's outcome), `attempts`, `http_status`, `error`, `first_attempt_at`,
        `last_attempt_at`, `endpoint_id`, `job_id`."""
        affiliate, brand = affiliate_of(key, affiliate_id)
        endpoints = [endpoint_view(e) for e in store.current().values()
                     if e.kind == "postback" and e.affiliate_id == affiliate]
        deliveries: list[dict[str, Any]] = await ask(
            slots, key, report_scope(key, None), affiliate_delivery_rows, settings,
            affiliate_id=affiliate, brand_id=brand, since=since, limit=limit,
        )
        return {"affiliate_id": affiliate, "endpoints": endpoints, "deliveries": deliveries}

    return router

