"""The event API for operators' back ends: `POST /v1/events`, and postback-in (`GET /v1/postback`).

An operator key (`clickpath keys create --role operator --brand B`) sends batches of any
ingress event type in the JSON shape of `clickpath.connectors.ingress.parse_event`. Every event gets its
own result; valid events of a batch are produced even when others are rejected, and each is
reported "accepted" only after the broker acknowledged it (acks=all). If the broker does not
acknowledge in time the answer is 503 and the whole batch may be sent again: `event_id` is the
idempotency key downstream, so the events that did land are not counted twice.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from clickpath.connectors.api_models import events_request_schema
from clickpath.connectors.auth import Problem, guarded_key, key_from_request, require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.ingress import Rejection, parse_event
from clickpath.connectors.keys import ApiKey
from clickpath.connectors.postback_in import POSTBACK_EVENTS, event_from_postback
from clickpath.contracts.models import IngressEvent
from clickpath.infra.limits import IN_FLIGHT, IdempotencyStore, RateLimiter, Remembered, fingerprint
from clickpath.infra.metrics import INGRESS_ACCEPTED, INGRESS_LATENCY, INGRESS_REJECTED

log = structlog.get_logger(__name__)

NOT_ACKNOWLEDGED = "not acknowledged by the broker in time; send the batch again"


class EventBatch(BaseModel):
    """The envelope of a request; each event in it is validated on its own (parse_event)."""

    events: list[dict[str, Any]] = Field(min_length=1)


class EventResult(BaseModel):
    index: int
    event_id: str | None = None
    status: Literal["accepted", "rejected", "not_acknowledged"]
    field: str | None = Field(default=None, description="The rejected field, dotted path.")
    reason: str | None = None


class BatchResult(BaseModel):
    accepted: int
    rejected: int
    results: list[EventResult]


_RESPONSES: dict[int | str, dict[str, Any]] = {
    207: {"model": BatchResult, "description": "Some events accepted, some rejected."},
    401: {"model": Problem, "description": "No, unknown or revoked API key."},
    403: {"model": Problem, "description": "The key's role may not send events."},
    409: {"model": Problem, "description": "A request with this Idempotency-Key is in flight."},
    413: {"model": Problem, "description": "More events than the batch limit."},
    422: {"model": BatchResult | Problem, "description": "No event valid, or a malformed body."},
    429: {"model": Problem, "description": "Rate limit of the key; see Retry-After."},
    503: {"model": BatchResult | Problem, "description": "The broker did not acknowledge."},
}


def event_api_router(ctx: IngressContext) -> APIRouter:
    settings = ctx.settings
    router = APIRouter(tags=["ingress"])
    limiter = RateLimiter(settings.api_rate_per_s, settings.api_rate_burst)
    remembered = IdempotencyStore(settings.idempotency_ttl_s)
    operator = require_role(ctx.keys, "events", "operator")

    body_schema, _ = events_request_schema(settings.api_max_batch)

    @router.post(
        "/v1/events",
        response_model=BatchResult,
        responses=_RESPONSES,
        openapi_extra={"requestBody": {
            "required": True, "content": {"application/json": {"schema": body_schema}},
        }},
    )
    async def post_events(
        request: Request,
        key: ApiKey = Depends(operator),
        idempotency_key: str | None = Header(
            default=None, max_length=255, description="Same key and body: the first answer again."
        ),
    ) -> JSONResponse:
        """Send a batch of ingress events; each is acknowledged by the broker or rejected.

        200: all accepted; 207: some accepted, the others rejected (field and reason each);
        422: none valid; 503: the broker did not acknowledge (send the batch again: event ids
        make it safe). An `Idempotency-Key` with the same body gets the first answer again.
        """
        started = time.perf_counter()
        batch = await _read_batch(request)
        if len(batch.events) > settings.api_max_batch:
            INGRESS_REJECTED.labels("events", "oversize").inc()
            raise HTTPException(
                413, f"events: {len(batch.events)} events; at most {settings.api_max_batch} a request"
            )
        body_print = fingerprint(await request.body())
        if idempotency_key is not None:
            earlier = remembered.get(key.key_id, idempotency_key)
            if earlier is IN_FLIGHT:
                INGRESS_REJECTED.labels("events", "idempotency_in_flight").inc()
                raise HTTPException(409, "a request with this Idempotency-Key is still in flight")
            if earlier is not None:
                if earlier.fingerprint != body_print:
                    INGRESS_REJECTED.labels("events", "idempotency_reused").inc()
                    raise HTTPException(
                        422, "Idempotency-Key: already used for a different request body"
                    )
                return JSONResponse(
                    earlier.body, earlier.status, headers={"Idempotent-Replayed": "true"}
                )
        wait = limiter.take(key.key_id, len(batch.events))
        if wait:
            INGRESS_REJECTED.labels("events", "rate_limited").inc()
            raise HTTPException(
                429,
                f"rate limit of this key: {settings.api_rate_per_s:g} events/s",
                headers={"Retry-After": str(max(1, math.ceil(min(wait, 3600))))},
            )
        if idempotency_key is not None:
            remembered.begin(key.key_id, idempotency_key)
        answer: Remembered | None = None
        try:
            answer = await _ingest(ctx, key, batch.events, body_print)
            return JSONResponse(answer.body, answer.status, headers=_retry_after(answer))
        finally:
            if idempotency_key is not None:
                keep = answer if answer is not None and answer.status != 503 else None
                remembered.finish(key.key_id, idempotency_key, keep)
            INGRESS_LATENCY.labels("events").observe(time.perf_counter() - started)

    @router.get("/v1/postback", responses={401: {"model": Problem}, 403: {"model": Problem},
                                           422: {"model": Problem}, 503: {"model": Problem}})
    async def postback_in(
        request: Request,
        event: Literal[POSTBACK_EVENTS] = Query(description="What happened."),  # type: ignore[valid-type]
        key: str | None = Query(default=None, description="Operator API key, when no header"
                                " (prefer the header: URLs land in access logs)."),
        authorization: str | None = Header(default=None),
    ) -> dict[str, Any]:
        """Server-to-server postback from an operator's platform, mapped onto an ingress event.

        Example: `/v1/postback?event=ftd&player_id=p1&transaction_id=t1&amount=25&currency=EUR`
        with `Authorization: Bearer K` (or `?key=K` when the platform cannot send headers).
        """
        started = time.perf_counter()
        in_query = f"Bearer {key}" if key and settings.postback_query_key else None
        api_key = guarded_key(request) or key_from_request(ctx.keys, authorization or in_query,
                                                           "postback")
        if api_key.role != "operator":
            INGRESS_REJECTED.labels("postback", "forbidden").inc()
            raise HTTPException(403, "postbacks need an operator key")
        params = {k: v for k, v in request.query_params.items() if k not in ("key", "event")}
        try:
            ingress = event_from_postback(
                event, params, pseudonym_key=ctx.pseudonym_keys, brand_id=api_key.brand_id or "",
                window=settings.event_time_window, mappings=settings.source_mappings,
            )
        except Rejection as r:
            INGRESS_REJECTED.labels("postback", "invalid").inc()
            raise HTTPException(422, str(r)) from None
        [error] = await ctx.send([ingress])
        INGRESS_LATENCY.labels("postback").observe(time.perf_counter() - started)
        if error is not None:
            INGRESS_REJECTED.labels("postback", "broker_unavailable").inc()
            log.warning("postback_not_acknowledged", error=error)
            raise HTTPException(503, "not acknowledged by the broker; send it again",
                                headers={"Retry-After": "5"})
        INGRESS_ACCEPTED.labels("postback", ingress.event_type).inc()
        return {"status": "accepted", "event_id": ingress.event_id, "event_type": ingress.event_type}

    return router


async def _read_batch(request: Request) -> EventBatch:
    """The request's envelope, or 422 naming what is wrong with it (as FastAPI words it)."""
    try:
        return EventBatch.model_validate_json(await request.body())
    except ValidationError as e:
        INGRESS_REJECTED.labels("events", "malformed").inc()
        detail = [{"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
                  for err in e.errors(include_url=False, include_input=False)]
        raise HTTPException(422, detail) from None


async def _ingest(
    ctx: IngressContext, key: ApiKey, raw_events: list[dict[str, Any]], body_print: str
) -> Remembered:
    """Validate every event, produce the valid ones, and build the per-event answer."""
    results: list[EventResult] = []
    valid: list[tuple[int, IngressEvent]] = []
    mappings = ctx.settings.source_mappings
    for index, raw in enumerate(raw_events):
        event_id = raw.get("event_id") if isinstance(raw.get("event_id"), str) else None
        try:
            event = parse_event(raw, pseudonym_key=ctx.pseudonym_keys, brand_id=key.brand_id,
                                source="api", window=ctx.settings.event_time_window, mappings=mappings)
        except Rejection as r:
            INGRESS_REJECTED.labels("events", "invalid").inc()
            results.append(EventResult(index=index, event_id=event_id, status="rejected",
                                       field=r.field, reason=r.reason))
            continue
        valid.append((index, event))
        results.append(EventResult(index=index, event_id=event.event_id, status="accepted"))
    errors = await ctx.send([event for _, event in valid])
    unacked = 0
    for (index, event), error in zip(valid, errors, strict=True):
        if error is None:
            INGRESS_ACCEPTED.labels("events", event.event_type).inc()
        else:
            unacked += 1
            results[index] = EventResult(index=index, event_id=event.event_id,  # no raw error
                                         status="not_acknowledged", reason=NOT_ACKNOWLEDGED)
    if unacked:
        INGRESS_REJECTED.labels("events", "broker_unavailable").inc(unacked)
        log.warning("events_not_acknowledged", count=unacked, error=errors[0])
    accepted = sum(r.status == "accepted" for r in results)
    rejected = sum(r.status == "rejected" for r in results)
    status = 503 if unacked else 200 if rejected == 0 else 207 if accepted else 422
    body = BatchResult(accepted=accepted, rejected=rejected, results=results)
    return Remembered(body_print, status, json.loads(body.model_dump_json(exclude_none=True)))




def _retry_after(answer: Remembered) -> dict[str, str]:
    return {"Retry-After": "5"} if answer.status == 503 else {}
