"""The identity admin API: undo a merge (admin keys; docs/identity.md#undoing-a-merge).

`POST /v1/admin/identity/unmerge` produces the same `UnmergeRequest` as `clickpath identity
unmerge` (clickpath.domain.identity.unmerge makes both), as `Node.IDENTITY_ADMIN`, and answers
202 only once the broker has it: the account stage splits the account when it reads it, so the
answer says it will happen, not that it has. The key's id is recorded as who asked. A refused
value is a 422 naming the field; a broker that did not take it a 503 without its words.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from clickpath.connectors.auth import require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.contracts.models import utcnow
from clickpath.contracts.models.identity import UnmergeRequest
from clickpath.domain.identity.unmerge import (
    BRAND_PATTERN,
    ID_MAX_CHARS,
    REASON_MAX_CHARS,
    UnmergeRefused,
    unmerge_request,
)
from clickpath.infra.metrics import INGRESS_ACCEPTED, INGRESS_REJECTED

log = structlog.get_logger(__name__)

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown key."},
    403: {"description": "Not an admin key."},
    413: {"description": "A body over ADMIN_MAX_BODY_BYTES."},
    422: {"description": "A bad field, named (personal data in the reason is one)."},
    503: {"description": "The broker did not take the request (details only in the log)."},
}


class UnmergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brand_id: str = Field(min_length=1, max_length=ID_MAX_CHARS, pattern=BRAND_PATTERN)
    player_id: str = Field(min_length=1, max_length=ID_MAX_CHARS,
                           description="The account to split from the person it is merged into.")
    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS,
                        description="Why, e.g. a ticket number; no personal data.")


class UnmergeAccepted(BaseModel):
    request_id: str
    account: str
    requested_by: str
    requested_at: datetime


def admin_identity_router(
    ctx: IngressContext, clock: Callable[[], datetime] = utcnow
) -> APIRouter:
    admin = require_role(ctx.keys, "admin", "admin")
    router = APIRouter(prefix="/v1/admin/identity", tags=["admin"])

    @router.post("/unmerge", status_code=202, responses=PROBLEMS)
    async def unmerge(body: UnmergeBody, request: Request, key: ApiKey = Depends(admin)) -> UnmergeAccepted:
        """Split the brand account from the accounts it is merged with now, for good: their
        links are blocked, later evidence never merges them again. Answered once the broker
        has the request; the merge log (`person_changes`) shows the split when the identity
        stage has applied it."""
        try:
            out = unmerge_request(body.brand_id, body.player_id, body.reason,
                                  requested_by=key.key_id, request_id=str(uuid.uuid4()),
                                  now=clock())
        except UnmergeRefused as e:
            INGRESS_REJECTED.labels("admin", "invalid").inc()
            raise HTTPException(422, str(e)) from None
        error = await ctx.send_record(out.topic, out.key, out.record)
        if error is not None:
            INGRESS_REJECTED.labels("admin", "broker_unavailable").inc()
            log.warning("unmerge_not_acknowledged", error=error)
            raise HTTPException(503, "not acknowledged by the broker; send it again",
                                headers={"Retry-After": "5"})
        INGRESS_ACCEPTED.labels("admin", "unmerge_request").inc()
        unmerge = cast(UnmergeRequest, out.record)
        log.info("unmerge_requested", request_id=unmerge.request_id, key_id=key.key_id)
        await ctx.arecord(request, key, kind="identity.unmerge",
                          subject=f"{body.brand_id}:{body.player_id}",
                          detail={"request_id": unmerge.request_id, "reason": body.reason})
        return UnmergeAccepted(request_id=unmerge.request_id, account=unmerge.account,
                               requested_by=unmerge.requested_by,
                               requested_at=unmerge.requested_at)

    return router
