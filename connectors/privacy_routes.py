"""A player's privacy routes on the HTTP service (docs/privacy.md): `GET
/v1/players/{player_id}/consents`, the consent log and what holds now, `GET
/v1/players/{player_id}/export`, the subject-access export, and `POST|GET
/v1/players/{player_id}/erasure`, asking for an erasure and reading its certificate.

All are the player's own data, so fewer keys read them than the journey: an operator key its
own brand's players (the brand from the key, another `brand_id` is a 403); an admin key names
the brand with `brand_id` (422 without it); analyst and affiliate keys read neither (403). A
player the brand does not have is a 404 naming the player id, whether it exists at another
brand or nowhere, as for the journey (connectors/journey_routes.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import structlog
from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from clickpath.connectors.analyst_routes import ask, invalid
from clickpath.connectors.auth import report_scope, require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.journey_routes import JOURNEY_RESPONSES
from clickpath.connectors.keys import ApiKey
from clickpath.contracts.models import utcnow
from clickpath.domain.consent_log import DEFAULT_HISTORY, MAX_HISTORY
from clickpath.domain.erasure_request import (
    IDEMPOTENCY_KEY_MAX_CHARS,
    REASON_MAX_CHARS,
    REQUESTED_BY_MAX_CHARS,
    PersonalData,
    erasure_event_id,
    erasure_request,
)
from clickpath.domain.subject_export import DEFAULT_EVENTS, MAX_EVENTS
from clickpath.infra.metrics import INGRESS_ACCEPTED, INGRESS_REJECTED
from clickpath.infra.report_slots import ReportSlots
from clickpath.infra.reports import consents_of, erasure_certificate_of, export_of

log = structlog.get_logger(__name__)

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


class ErasureBody(BaseModel):
    """What an erasure request may say; all optional, no personal data in any of it."""

    model_config = ConfigDict(extra="forbid")
    brand_id: str | None = Field(None, min_length=1, max_length=128, description=BRAND_ID_DOC)
    requested_by: str | None = Field(
        None, min_length=1, max_length=REQUESTED_BY_MAX_CHARS,
        description="who asks, e.g. the DPO ticket (default: the key's id); no personal data",
    )
    reason: str | None = Field(None, min_length=1, max_length=REASON_MAX_CHARS,
                               description="why, e.g. an Art. 17 request; no personal data")


class ErasureAccepted(BaseModel):
    request_id: str
    brand_id: str
    player_id: str
    status: str = "accepted"
    certificate: str


def certificate_path(player_id: str, brand_id: str) -> str:
    return f"/v1/players/{quote(player_id, safe='')}/erasure?{urlencode({'brand_id': brand_id})}"


def unknown_player(player_id: str, brand: str) -> HTTPException:
    return HTTPException(404, f"unknown player_id {player_id!r} at brand {brand!r}")


def privacy_router(ctx: IngressContext) -> APIRouter:
    settings = ctx.settings
    router = APIRouter(tags=["players"])
    slots = ReportSlots()
    reader = require_role(ctx.keys, "reports", "admin", "operator")

    @router.get("/v1/players/{player_id}/consents", responses=JOURNEY_RESPONSES)
    async def player_consents(
        request: Request,
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
        await ctx.arecord(request, key, kind="consents.read", subject=f"{brand}:{player_id}")
        return answer

    @router.get("/v1/players/{player_id}/export", responses=JOURNEY_RESPONSES)
    async def player_export(
        request: Request,
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
        await ctx.arecord(request, key, kind="export.read", subject=f"{brand}:{player_id}",
                          detail={"events": len(answer.get("events", []))})
        return answer

    @router.post("/v1/players/{player_id}/erasure", status_code=202, responses={
        **JOURNEY_RESPONSES,
        413: {"description": "A body over the service's body cap."},
        503: {"description": "The broker did not take the request (details only in the log)."},
    })
    async def request_erasure(
        request: Request,
        player_id: str = PLAYER_ID,
        body: ErasureBody | None = Body(None),
        brand_id: str | None = Query(None, min_length=1, max_length=128, description=BRAND_ID_DOC),
        idempotency_key: str | None = Header(
            None, min_length=1, max_length=IDEMPOTENCY_KEY_MAX_CHARS,
            description="the same key asks for the same erasure again (one request_id)",
        ),
        key: ApiKey = Depends(reader),
    ) -> ErasureAccepted:
        """Erase one brand account (docs/privacy.md#erasure): produces an `erasure_request`
        event and answers 202 once the broker has it. The identity stage then empties the
        account, the ClickHouse sink destroys its key, anonymises its rows and writes the
        certificate `GET` on the same path reads. `requested_by` defaults to the key's id."""
        body = body or ErasureBody()
        named = body.brand_id or brand_id
        if body.brand_id and brand_id and body.brand_id != brand_id:
            raise invalid("brand_id", "the body and the query name different brands", brand_id)
        brand = brand_for(key, named)
        try:
            event = erasure_request(
                brand, player_id, requested_by=body.requested_by or key.key_id,
                reason=body.reason, now=utcnow(), source="api",
                event_id=erasure_event_id(brand, player_id, idempotency_key),
            )
        except PersonalData as e:
            INGRESS_REJECTED.labels("erasure", "invalid").inc()
            raise RequestValidationError([{"type": "value_error", "loc": ("body", e.field),
                                           "msg": e.reason, "input": None}]) from None
        [error] = await ctx.send([event])
        if error is not None:
            INGRESS_REJECTED.labels("erasure", "broker_unavailable").inc()
            log.warning("erasure_not_acknowledged", error=error)
            raise HTTPException(503, "not acknowledged by the broker; send it again",
                                headers={"Retry-After": "5"})
        INGRESS_ACCEPTED.labels("erasure", "erasure_request").inc()
        await ctx.arecord(request, key, kind="erasure.requested", subject=f"{brand}:{player_id}",
                          detail={"request_id": event.event_id})
        log.info("erasure_requested", request_id=event.event_id, key_id=key.key_id)
        return ErasureAccepted(request_id=event.event_id, brand_id=brand, player_id=player_id,
                               certificate=certificate_path(player_id, brand))

    @router.get("/v1/players/{player_id}/erasure", responses=JOURNEY_RESPONSES)
    async def erasure_certificate(
        request: Request,
        player_id: str = PLAYER_ID,
        brand_id: str | None = Query(None, min_length=1, max_length=128, description=BRAND_ID_DOC),
        key: ApiKey = Depends(reader),
    ) -> dict[str, Any]:
        """The erasure certificate of one brand account, once the erasure is done: every
        column of `erasure_certificates` (times ISO 8601, `rows_anonymised` per table) and
        `statement`, the same in one sentence. 404 until the ClickHouse sink has written it."""
        brand = brand_for(key, brand_id)
        scope = report_scope(key, brand)
        answer: dict[str, Any] | None = await ask(
            slots, key, scope, erasure_certificate_of, settings, brand_id=brand, player_id=player_id,
        )
        if answer is None:
            raise HTTPException(
                404, f"no erasure certificate for player {player_id!r} at brand {brand!r} (yet)"
            )
        await ctx.arecord(request, key, kind="erasure_certificate.read",
                          subject=f"{brand}:{player_id}")
        return answer

    return router
