"""A player's privacy reads on the HTTP service (docs/privacy.md): `GET
/v1/players/{player_id}/consents`, the consent log and what holds now, and `GET
/v1/players/{player_id}/export`, the subject-access export.

Both are the player's own data, so fewer keys read them than the journey: an operator key its
own brand's players (the brand from the key, another `brand_id` is a 403); an admin key names
the brand with `brand_id` (422 without it); analyst and affiliate keys read neither (403). A
player the brand does not have is a 404 naming the player id, whether it exists at another
brand or nowhere, as for the journey (connectors/journey_routes.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from clickpath.connectors.analyst_routes import ask, invalid
from clickpath.connectors.auth import report_scope, require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.journey_routes import JOURNEY_RESPONSES
from clickpath.connectors.keys import ApiKey
from clickpath.domain.consent_log import DEFAULT_HISTORY, MAX_HISTORY
from clickpath.domain.subject_export import DEFAULT_EVENTS, MAX_EVENTS
from clickpath.infra.report_slots import ReportSlots
from clickpath.infra.reports import consents_of, export_of

PLAYER_ID = Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
BRAND_ID_DOC = "admin keys: the player's brand (required); operator keys: their own, or omitted"


def brand_for(key: ApiKey, brand_id: str | None) -> str:
    """The brand a privacy read is about: an admin's `brand_id` (422 without it), else the
    key's own (another is a 403, in report_scope)."""
    if key.role == "admin" and not brand_id:
        raise invalid("brand_id", "an admin key names the player's brand", brand_id)
    brand = report_scope(key, brand_id).brand_id
    assert brand is not None  # an admin's is required above, an operator's is its key's
    return brand


def unknown_player(player_id: str, brand: str) -> HTTPException:
    return HTTPException(404, f"unknown player_id {player_id!r} at brand {brand!r}")


def privacy_router(ctx: IngressContext) -> APIRouter:
    settings = ctx.settings
    router = APIRouter(tags=["players"])
    slots = ReportSlots()
    reader = require_role(ctx.keys, "reports", "admin", "operator")

    @router.get("/v1/players/{player_id}/consents", responses=JOURNEY_RESPONSES)
    async def player_consents(
        player_id: str = PLAYER_ID,
        brand_id: str | None = Query(None, min_length=1, max_length=128, description=BRAND_ID_DOC),
        limit: int = Query(
            DEFAULT_HISTORY, ge=1, le=MAX_HISTORY,
            description="the history's newest changes at most (`history_truncated` says when"
            " older ones were left out)",
        ),
        key: ApiKey = Depends(reader),
    ) -> dict[str, Any]:
        """One brand account's consent log: `current`, per purpose (marketing_email,
        marketing_sms, affiliate_data_sharing, profiling), the change that holds (the latest
        by event time; null when the player never stated it), and `history`, every change
        (`event_id`, `purpose`, `status` granted|withdrawn, `occurred_at`, `received_at`,
        `source`) oldest first, a late change from before a later one included."""
        brand = brand_for(key, brand_id)
        scope = report_scope(key, brand)
        answer: dict[str, Any] | None = await ask(
            slots, key, scope, consents_of, settings,
            brand_id=brand, player_id=player_id, limit=limit,
        )
        if answer is None:
            raise unknown_player(player_id, brand)
        # audit: consents.read (key.key_id read brand:player_id's consent log)
        return answer

    @router.get("/v1/players/{player_id}/export", responses=JOURNEY_RESPONSES)
    async def player_export(
        player_id: str = PLAYER_ID,
        brand_id: str | None = Query(None, min_length=1, max_length=128, description=BRAND_ID_DOC),
        limit: int = Query(
            DEFAULT_EVENTS, ge=1, le=MAX_EVENTS,
            description="the account's oldest canonical events at most (`events_truncated` and"
            " `truncated` say when later ones were left out)",
        ),
        key: ApiKey = Depends(reader),
    ) -> dict[str, Any]:
        """The subject-access export of one brand account: `profile` (the `players` row),
        `identity` (`person_id`, `accounts`, `links`, as in the journey), `events` (its
        canonical events oldest first, each with its `payload` as stored; amounts decimal
        strings with their currency), `consents` (`current`, `history`), `touchpoints`,
        `attribution`, `responsible_gaming` (`active`, `history`), `deliveries` (postbacks and
        webhooks about the player, each job's last attempt) and `truncated`."""
        brand = brand_for(key, brand_id)
        scope = report_scope(key, brand)
        answer: dict[str, Any] | None = await ask(
            slots, key, scope, export_of, settings,
            brand_id=brand, player_id=player_id, limit=limit, full=key.role == "admin",
        )
        if answer is None:
            raise unknown_player(player_id, brand)
        # audit: export.read (key.key_id exported brand:player_id's data)
        return answer

    return router
