"""The analyst routes of the HTTP service: attribution by model, LTV cohorts, retention
(`GET /v1/reports/…`) and read-only SQL over the documented views (`POST /v1/sql`).

Reports: admin, operator, analyst and affiliate keys, scoped like the funnel (auth.report_scope:
the brand from the key; an affiliate key gets its own affiliate's rows, filtered after the
computation, so that its shares are those of the whole brand). SQL: analyst and admin keys only;
every view is filtered to the key's brand by clickpath/infra/analyst_sql.py. ClickHouse's own
words never reach a caller: a refused query is a 400 saying what is not allowed, ClickHouse out
of reach a 503 (the reason only in the log). How many run at once, per key, brand and service:
clickpath/infra/report_slots.py (a 429 names the limit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from clickpath.connectors.auth import Problem, ReportScope, report_scope, require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.domain.analytics_rows import params_problem
from clickpath.domain.multitouch import (
    DEFAULT_HALF_LIFE_DAYS,
    DEFAULT_POSITION_FIRST,
    DEFAULT_POSITION_LAST,
    MODELS,
)
from clickpath.infra.analyst_run import LIMITS
from clickpath.infra.analyst_sql import MAX_QUERY_CHARS, QueryRefused
from clickpath.infra.report_slots import ReportSlots, SlotsBusy
from clickpath.infra.reports import (
    ReportsBusy,
    analyst_query,
    attribution_rows,
    cohort_rows,
    retention_rows,
)

log = structlog.get_logger(__name__)

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No, unknown or revoked API key."},
    403: {"model": Problem, "description": "A role, brand or affiliate the key does not cover."},
    429: {
        "model": Problem,
        "description": "This key's, this brand's or the service's analytics reports are"
        " running; `detail` says which (see Retry-After).",
    },
    503: {"model": Problem, "description": "ClickHouse not reachable (details only in the log)."},
}
SQL_RESPONSES: dict[int | str, dict[str, Any]] = {
    **RESPONSES,
    400: {
        "model": Problem,
        "description": "The query is not allowed, or ClickHouse refused it; `detail` says why.",
    },
}


class SqlRequest(BaseModel):
    """One SELECT over the analyst views (docs/analytics.md)."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    brand_id: str | None = Field(
        default=None, description="admin keys: only this brand (others: the key's brand)"
    )


class SqlAnswer(BaseModel):
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(
        description=f"rows were left out: over {LIMITS.max_rows} rows or"
        f" {LIMITS.max_answer_bytes} bytes of values"
    )
    truncated_reason: str | None = Field(default=None, description="which limit cut the rows")


def invalid(field: str, message: str, value: Any) -> RequestValidationError:
    """A 422 naming the query parameter, shaped like FastAPI's own."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", field), "msg": message, "input": value}]
    )


def parse_models(model: str) -> tuple[str, ...]:
    """`all`, one model, or a comma-separated list of MODELS."""
    if model == "all":
        return MODELS
    names = tuple(dict.fromkeys(m.strip() for m in model.split(",") if m.strip()))
    unknown = [m for m in names if m not in MODELS]
    if unknown or not names:
        raise invalid(
            "model",
            f"unknown model {unknown[0] if unknown else model!r}: one of"
            f" {', '.join(MODELS)} or all (comma-separated for several)",
            model,
        )
    return names


def check_period(since: date | None, until: date | None) -> None:
    if since and until and since > until:
        raise invalid("until", "until is before since", str(until))


def own_rows(rows: list[dict[str, Any]], scope: ReportScope) -> list[dict[str, Any]]:
    """An affiliate key's share of the rows: its own affiliate's."""
    if scope.affiliate_id is None:
        return rows
    return [r for r in rows if r.get("affiliate_id") == scope.affiliate_id]


BUSY_RETRY_AFTER_S = 10


async def ask(
    slots: ReportSlots, key: ApiKey, scope: ReportScope, report: Callable[..., Any],
    *args: Any, **kwargs: Any,
) -> Any:
    """Run a ClickHouse read off the event loop in a slot of the key, its brand and the
    service (429 naming the limit when there is none), freed when the read really returns;
    503 without the driver's words on failure."""
    try:
        claim = slots.claim(key.key_id, scope.brand_id)
    except SlotsBusy as e:
        raise HTTPException(
            429, str(e), headers={"Retry-After": str(BUSY_RETRY_AFTER_S)}
        ) from None
    loop = asyncio.get_running_loop()
    ran = False

    def job() -> Any:
        nonlocal ran
        ran = True
        try:
            return report(*args, **kwargs)
        finally:  # from the thread: even a request that was given up keeps its slot till here
            loop.call_soon_threadsafe(slots.release, claim)

    try:
        return await run_in_threadpool(job)
    except QueryRefused:
        raise
    except ReportsBusy as e:
        raise HTTPException(429, str(e), headers={"Retry-After": str(e.retry_after)}) from None
    except Exception as e:  # never the DSN or the driver's words to a caller
        log.warning(
            "report_clickhouse_unreachable",
            report=getattr(report, "__name__", "?"),
            error_type=type(e).__name__,
        )
        raise HTTPException(503, "ClickHouse not reachable; try again later") from None
    finally:
        if not ran:
            slots.release(claim)


def analyst_router(ctx: IngressContext) -> APIRouter:
    settings = ctx.settings
    router = APIRouter()
    slots = ReportSlots()
    reader = require_role(ctx.keys, "reports", "admin", "operator", "analyst", "affiliate")
    sql_reader = require_role(ctx.keys, "sql", "admin", "analyst")

    @router.get("/v1/reports/attribution", responses=RESPONSES)
    async def attribution_report(
        model: str = Query("all", description="all, or models comma-separated: " + ", ".join(MODELS)),
        conversion: Literal["registration", "ftd"] = "registration",
        value: Literal["ngr", "deposits"] = "ngr",
        by: Literal["affiliate", "campaign"] = "affiliate",
        half_life_days: float = Query(DEFAULT_HALF_LIFE_DAYS, gt=0, le=3650, description="time_decay"),
        position_first: Decimal = Query(DEFAULT_POSITION_FIRST, ge=0, le=1, description="position"),
        position_last: Decimal = Query(DEFAULT_POSITION_LAST, ge=0, le=1, description="position"),
        lookback_days: int = Query(
            settings.identity_lookback,  # the window the identity stage puts clicks on paths in
            ge=1,
            le=365,
            description="clicks this many days before the conversion make its path",
        ),
        brand_id: str | None = None,
        since: date | None = Query(None, description="conversions from this day"),
        until: date | None = Query(None, description="conversions until this day"),
        key: ApiKey = Depends(reader),
    ) -> list[dict[str, Any]]:
        """Credit for conversions (registrations or FTDs) and their value (NGR or deposits) per
        model and affiliate (or campaign), over the touchpoint paths of the conversions in the
        period: `model`, `affiliate_id` (`campaign_id`), `conversion`, `conversions` (the
        credit, a decimal string) and `value` (`{currency: decimal string}`). Conversions with
        no touchpoint (organic) are credited by no model (docs/attribution-models.md)."""
        models = parse_models(model)
        given = {
            "half_life_days": half_life_days,
            "position_first": position_first,
            "position_last": position_last,
        }
        problem = params_problem(half_life_days, position_first, position_last)
        if problem is not None:
            raise invalid(*problem, str(given[problem[0]]))
        check_period(since, until)
        scope = report_scope(key, brand_id)
        rows = await ask(
            slots, key, scope, attribution_rows,
            settings,
            brand_id=scope.brand_id,
            models=models,
            conversion=conversion,
            value=value,
            by=by,
            since=since,
            until=until,
            lookback_days=lookback_days,
            half_life_days=half_life_days,
            position_first=position_first,
            position_last=position_last,
        )
        return own_rows(rows, scope)

    @router.get("/v1/reports/cohorts", responses=RESPONSES)
    async def cohorts_report(
        grain: Literal["week", "month"] = "month",
        brand_id: str | None = None,
        since: date | None = Query(None, description="cohorts registered from this day"),
        until: date | None = Query(None, description="cohorts registered until this day"),
        key: ApiKey = Depends(reader),
    ) -> list[dict[str, Any]]:
        """Registration cohorts per affiliate and campaign: players, FTDs, deposits and NGR
        (LTV) at 30, 90 and 365 days, CPA and CPA-to-LTV (docs/cohorts.md)."""
        check_period(since, until)
        scope = report_scope(key, brand_id)
        rows = await ask(
            slots, key, scope, cohort_rows, settings,
            brand_id=scope.brand_id, grain=grain, since=since, until=until,
        )
        return own_rows(rows, scope)

    @router.get("/v1/reports/retention", responses=RESPONSES)
    async def retention_report(
        grain: Literal["week", "month"] = "month",
        periods: int = Query(12, ge=1, le=120, description="periods 0..N-1 after registration"),
        brand_id: str | None = None,
        since: date | None = Query(None, description="cohorts registered from this day"),
        until: date | None = Query(None, description="cohorts registered until this day"),
        key: ApiKey = Depends(reader),
    ) -> list[dict[str, Any]]:
        """Per cohort, affiliate and campaign: the players active in each period after
        registration (`active`) and their share (`retention`) (docs/cohorts.md)."""
        check_period(since, until)
        scope = report_scope(key, brand_id)
        rows = await ask(
            slots, key, scope, retention_rows,
            settings,
            brand_id=scope.brand_id,
            grain=grain,
            periods=periods,
            since=since,
            until=until,
        )
        return own_rows(rows, scope)

    @router.post("/v1/sql", responses=SQL_RESPONSES)
    async def sql(request: SqlRequest, key: ApiKey = Depends(sql_reader)) -> SqlAnswer:
        """One read-only SELECT over the analyst views (funnel_daily, players, players_money,
        touchpoints, touchpoint_paths, cohort_ltv, cohort_retention), every view limited to the
        key's brand (an admin key: every brand, or `brand_id`). Limited in rows, time and
        memory (`truncated` says when rows were left out); docs/analytics.md says what is
        allowed."""
        scope = report_scope(key, request.brand_id)
        try:
            answer = await ask(
                slots, key, scope, analyst_query, settings, request.query, scope.brand_id,
                key_id=key.key_id,
            )
        except QueryRefused as e:
            raise HTTPException(400, str(e)) from None
        return SqlAnswer.model_validate(answer)

    return router
