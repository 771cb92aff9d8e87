"""The HTTP service (default 127.0.0.1:8000): health, metrics and reports (the funnel here;
attribution, cohorts, retention and analyst SQL in connectors/analyst_routes.py).

With embedded ClickHouse (chdb) only the ClickHouse sink may open the data directory, so
reports are fetched from its loopback endpoint; against a ClickHouse server they are queried
directly. The ingress doors (event API, postback-in, click tracker) are routers from
`connectors/`, sharing one `IngressContext`. Every request passes the guard first
(connectors/http_guard.py: rate limits, API key, body caps); docs/security.md says what is
protected and how.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from clickpath.connectors.admin_commissions import admin_commissions_router
from clickpath.connectors.admin_endpoints import admin_endpoints_router
from clickpath.connectors.admin_identity import admin_identity_router
from clickpath.connectors.admin_plans import admin_plans_router
from clickpath.connectors.affiliate_routes import affiliate_router
from clickpath.connectors.affiliate_statements import affiliate_statements_router
from clickpath.connectors.analyst_routes import analyst_router
from clickpath.connectors.api_models import events_request_schema
from clickpath.connectors.auth import Problem, report_scope, require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.event_api import event_api_router
from clickpath.connectors.http_guard import HttpGuard
from clickpath.connectors.journey_routes import journey_router
from clickpath.connectors.keys import ApiKey
from clickpath.connectors.ledger_routes import ledger_router
from clickpath.connectors.privacy_routes import privacy_router
from clickpath.connectors.service_pages import service_pages
from clickpath.connectors.tracker import tracker_routes
from clickpath.connectors.visitor_pages import page as tracker_page
from clickpath.domain.report import summarize
from clickpath.infra.metrics import INGRESS_REJECTED, render_metrics
from clickpath.infra.reports import funnel_rows
from clickpath.settings import Settings

if TYPE_CHECKING:
    import uvicorn

log = structlog.get_logger(__name__)

REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No, unknown or revoked API key."},
    403: {"model": Problem, "description": "A brand or affiliate the key does not cover."},
    503: {"model": Problem, "description": "ClickHouse not reachable (details only in the log)."},
}


def create_service(settings: Settings, ctx: IngressContext | None = None) -> FastAPI:
    ctx = ctx or IngressContext.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.start()
        try:
            yield
        finally:
            ctx.stop()

    app = FastAPI(
        title="clickpath",
        version="0.1.0",
        description="Affiliate attribution pipeline: ingress doors, health, metrics and reports.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load their assets from a CDN; ours are served here
        redoc_url=None,
    )
    app.include_router(service_pages(app))
    app.add_middleware(HttpGuard, settings=settings, keys=ctx.keys)
    app.include_router(event_api_router(ctx))
    app.include_router(admin_endpoints_router(ctx))
    app.include_router(admin_plans_router(ctx))
    app.include_router(analyst_router(ctx))
    app.include_router(ledger_router(ctx))
    app.include_router(admin_commissions_router(ctx))
    app.include_router(admin_identity_router(ctx))
    app.include_router(affiliate_statements_router(ctx))
    app.include_router(affiliate_router(ctx))
    app.include_router(journey_router(ctx))
    app.include_router(privacy_router(ctx))
    app.add_exception_handler(StarletteHTTPException, _not_found_pages)  # type: ignore[arg-type]
    click_routes, tracker = tracker_routes(ctx)
    app.router.routes[:0] = click_routes  # matched first, without FastAPI's per-request machinery
    app.include_router(tracker)
    _document_event_models(app, settings)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"description": "Prometheus text exposition format.",
                         "content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def metrics() -> Response:
        """Every clickpath process's metrics (under `clickpath up`), for Prometheus to scrape."""
        body, content_type = render_metrics()
        return Response(content=body, media_type=content_type)

    reader = require_role(ctx.keys, "reports", "admin", "operator", "analyst", "affiliate")

    @app.get("/v1/reports/funnel", responses=REPORT_RESPONSES)
    async def funnel_report(
        brand_id: str | None = None, since: date | None = None, until: date | None = None,
        key: ApiKey = Depends(reader),
    ) -> list[dict[str, Any]]:
        """Funnel KPIs and the players' value by brand, affiliate and campaign, of what the key may
        read: its brand (operator, analyst), its affiliate (affiliate), or any brand (admin;
        `brand_id` filters). Another brand than the key's is 403.

        Each row: `brand_id`, `affiliate_id`, `campaign_id`, counts (clicks, registrations,
        FTDs, deposits, declined deposits, withdrawals, chargebacks), `by_currency` (the counts
        that belong to a currency, per currency), the conversion rates, and `{currency: amount}` maps
        (deposit_sum, average_deposit, ftd_sum, withdrawal_sum, chargeback_sum, stakes, wins,
        bonus_stakes, bonus_cost, ggr = stakes - wins, ngr = ggr - bonus_cost -
        chargeback_sum); amounts are decimal strings, per currency, never converted."""
        scope = report_scope(key, brand_id)
        fx = settings.fx_table
        try:
            rows = await run_in_threadpool(
                funnel_rows, settings, brand_id=scope.brand_id, since=since, until=until,
                by_day=fx is not None,
            )
        except Exception as e:  # never the DSN or the driver's words to a caller
            log.warning("report_clickhouse_unreachable", error_type=type(e).__name__)
            raise HTTPException(503, "ClickHouse not reachable; try again later") from None
        if scope.affiliate_id is not None:
            rows = [r for r in rows if r["affiliate_id"] == scope.affiliate_id]
        return summarize(rows, fx)

    return app


async def _not_found_pages(request: Request, exc: StarletteHTTPException) -> Response:
    """A path no route matches under /c/ (a tracking link, e.g. with a control character) gets
    the tracker's HTML page, like any unknown link; everything else FastAPI's JSON."""
    if exc.status_code == 404 and request.url.path.startswith("/c/"):
        INGRESS_REJECTED.labels("tracker", "unknown_tracking_code").inc()
        return tracker_page(404, "Link not found", "No tracking link has this code.")
    return await http_exception_handler(request, exc)


def _document_event_models(app: FastAPI, settings: Settings) -> None:
    """Add the event API's per-type input schemas to the OpenAPI document's components."""
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = plain_openapi()
            _, components = events_request_schema(settings.api_max_batch)
            spec.setdefault("components", {}).setdefault("schemas", {}).update(components)
        return app.openapi_schema or spec

    app.openapi = openapi  # type: ignore[method-assign]


def server_config(settings: Settings, app: FastAPI | None = None) -> uvicorn.Config:
    """How uvicorn serves the service. Its own proxy-header handling is off: on by default, it
    believed X-Forwarded-For from 127.0.0.1 whatever clickpath was told, so a client on the same
    host (or a proxy that appends rather than overwrites) chose its own address and escaped the
    rate limits and the bot screen. The visitor's address is clickpath's to decide (the guard and
    the tracker, from TRACKER_CLIENT_IP_HEADER, TRACKER_PROXY_HOPS, TRACKER_TRUSTED_PROXIES)."""
    import uvicorn

    return uvicorn.Config(
        app or create_service(settings),
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",  # with httptools: ~30% less CPU per click than asyncio + h11
        http="httptools",
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


def run_service(settings: Settings) -> None:
    import uvicorn

    uvicorn.Server(server_config(settings)).run()
