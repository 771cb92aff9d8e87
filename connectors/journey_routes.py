"""The player journey route of the HTTP service: `GET /v1/players/{player_id}/journey`
(docs/identity.md#journey), one brand account's person, accounts, links, signals, touchpoints,
timeline and profile.

Operator and analyst keys read their own brand's players, the brand from the key (another
`brand_id` is a 403); an admin key names the brand with `brand_id` (422 without it); affiliate
keys read no player (403). A player the brand does not have is a 404 naming the player id, the
same whether it exists at another brand or nowhere: a brand-bound key learns nothing of other
brands by asking. What another brand's account is called is redacted below this module
(clickpath/domain/identity/journey.py). Every read is recorded in the audit trail (`journey.read`,
the key's id and the client's address) before it is answered.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from clickpath.connectors.analyst_routes import RESPONSES, ask, invalid
from clickpath.connectors.auth import Problem, report_scope, require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.domain.identity.journey import DEFAULT_TIMELINE, MAX_TIMELINE
from clickpath.infra.report_slots import ReportSlots
from clickpath.infra.reports import journey_of

JOURNEY_RESPONSES: dict[int | str, dict[str, Any]] = {
    **RESPONSES,
    404: {"model": Problem, "description": "The brand has no player with this player_id."},
}


def journey_router(ctx: IngressContext) -> APIRouter:
    settings = ctx.settings
    router = APIRouter(tags=["players"])
    slots = ReportSlots()
    reader = require_role(ctx.keys, "reports", "admin", "operator", "analyst")

    @router.get("/v1/players/{player_id}/journey", responses=JOURNEY_RESPONSES)
    async def player_journey(
        request: Request,
        player_id: str = Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$"),
        brand_id: str | None = Query(
            None, min_length=1, max_length=128,
            description="admin keys: the player's brand (required); others: their own, or omitted",
        ),
        limit: int = Query(
            DEFAULT_TIMELINE, ge=1, le=MAX_TIMELINE,
            description="the timeline's newest events at most (`timeline_truncated` says when"
            " older ones were left out)",
        ),
        key: ApiKey = Depends(reader),
    ) -> dict[str, Any]:
        """One brand account's journey: `person_id`, `accounts` (the person's, at most one per
        brand), `links` (`kind` deterministic|scored, `status` merged|possible, `score`,
        `reasons` field → weight, `other`), `signals` (open multi-account signals of the
        brand), `touchpoints` (the clicks the identity graph puts on its path), `timeline`
        (its canonical events, the newest `limit`, oldest first; amounts decimal strings with
        their currency) and `profile` (the `players` view's row, null without one). Another
        brand's account shows as `{brand_id, linked: true}` except to an admin key."""
        if key.role == "admin" and not brand_id:
            raise invalid("brand_id", "an admin key names the player's brand", brand_id)
        scope = report_scope(key, brand_id)
        brand = scope.brand_id
        assert brand is not None  # an admin's is required above, the others' is their key's
        answer: dict[str, Any] | None = await ask(
            slots, key, scope, journey_of, settings,
            brand_id=brand, player_id=player_id, limit=limit, full=key.role == "admin",
        )
        # Recorded before the answer leaves (found or not): no journey is read unrecorded.
        await ctx.arecord(request, key, kind="journey.read", subject=f"{brand}:{player_id}",
                          detail={"found": answer is not None, "limit": limit})
        if answer is None:
            raise HTTPException(404, f"unknown player_id {player_id!r} at brand {brand!r}")
        return answer

    return router
