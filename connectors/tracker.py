"""The click tracker and the web SDK: the public door of the HTTP service.

- `GET /c/{tracking_code}` and `GET /c?aff=A&campaign=C` (plus `sub1`..`sub5`, `utm_*`): mint a
  click id, record the Click, and only once the broker acknowledged it (acks=all) redirect (302)
  to the campaign's landing URL. An unknown link is a 404 page, counted; never a crash.
- `GET /sdk/clickpath.js`: the web SDK (connectors/static/clickpath.js).
- `POST /v1/collect`: page context the SDK sends with the visitor's consent, from the landing
  origins of the catalogue (CORS); recorded as a PageView on its own topic.

The router also mounts the catalogue admin API (connectors/admin_catalogue.py) on the same
catalogue; the visitor's pages are in connectors/visitor_pages.py.
Decisions live in clickpath.domain.tracking; the handlers here only read the request and answer.
The visitor's raw IP never leaves this module: it goes into the pseudonym and is dropped.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.routing import BaseRoute, Route

from clickpath.connectors.admin_catalogue import admin_catalogue_router
from clickpath.connectors.auth import Problem
from clickpath.connectors.catalogue import CatalogueStore
from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_guard import BodyTooLarge
from clickpath.connectors.visitor_pages import page, redirect
from clickpath.contracts.models import utcnow
from clickpath.domain.catalogue import CATALOGUE_ID_PATTERN
from clickpath.domain.landing import origin_of
from clickpath.domain.tracking import (
    CLICK_ID_RE,
    DEVICE_COOKIE,
    DEVICE_ID_RE,
    TEXT_MAX,
    Catalogue,
    Link,
    LinkError,
    check_collected_page,
    collect_brand,
    country_of,
    device_id_of,
    fresh_click_id,
    link_params,
    make_click,
    make_page_view,
    new_click_id,
    trusted_peer,
    visitor_ip,
)
from clickpath.infra.limits import ClickScreen
from clickpath.infra.metrics import CLICKS_FLAGGED, INGRESS_ACCEPTED, INGRESS_LATENCY, INGRESS_REJECTED
from clickpath.settings import Settings

log = structlog.get_logger(__name__)

SDK_FILE = Path(__file__).parent / "static" / "clickpath.js"


class JavaScriptResponse(Response):
    media_type = "text/javascript"


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


LINK_RESPONSES: dict[int | str, dict[str, Any]] = {
    302: _html("Click recorded (acknowledged by the broker): on to the landing URL in Location."),
    400: _html("The link's values do not fit a click (e.g. a sub over 2,048 characters)."),
    404: _html("Unknown tracking code, affiliate or campaign."),
    503: _html("The broker did not acknowledge the click: try again (Retry-After)."),
}


LINK_PARAMS = (
    "sub1", "sub2", "sub3", "sub4", "sub5",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
)


def kept_params(params: Mapping[str, str]) -> dict[str, str]:
    """The query parameters a tracking link keeps, non-empty ones only (as link_query does;
    the last value of a repeated one, as FastAPI reads a `str` parameter)."""
    return {name: value for name in LINK_PARAMS if (value := params.get(name))}


async def link_query(
    sub1: str | None = Query(None, description="Affiliate's sub id 1, passed to the landing URL"),
    sub2: str | None = Query(None, description="Sub id 2"),
    sub3: str | None = Query(None, description="Sub id 3"),
    sub4: str | None = Query(None, description="Sub id 4"),
    sub5: str | None = Query(None, description="Sub id 5"),
    utm_source: str | None = Query(None, description="Appended to the landing URL"),
    utm_medium: str | None = Query(None, description="Appended to the landing URL"),
    utm_campaign: str | None = Query(None, description="Appended to the landing URL"),
    utm_term: str | None = Query(None, description="Appended to the landing URL"),
    utm_content: str | None = Query(None, description="Appended to the landing URL"),
) -> dict[str, str]:
    """The query parameters a tracking link keeps (declared so that the OpenAPI lists them).

    Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop
    per click that cost a third of the tracker's time."""
    return {k: v for k, v in locals().items() if v}


class CollectBody(BaseModel):
    """What the web SDK sends. Unknown fields are ignored, so a browser holding an older or
    newer cached SDK than the server's still counts."""

    model_config = ConfigDict(extra="ignore")

    click_id: str = Field(pattern=CLICK_ID_RE.pattern, description="From the landing URL.")
    page_url: str | None = Field(default=None, max_length=TEXT_MAX)
    referrer: str | None = Field(default=None, max_length=TEXT_MAX)
    viewport: Literal["small", "medium", "large"] | None = None
    language: str | None = Field(default=None, max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
    platform: str | None = Field(default=None, max_length=64)
    device_id: str | None = Field(default=None, pattern=DEVICE_ID_RE.pattern)
    brand: str | None = Field(
        default=None,
        pattern=CATALOGUE_ID_PATTERN,
        description="Needed only when the page's origin serves several brands.",
    )


def tracker_routes(ctx: IngressContext) -> tuple[list[BaseRoute], APIRouter]:
    """The click routes as plain Starlette routes, for the service to put first (the hot path:
    FastAPI's dependency solving and nested-router matching were a third of a click's CPU);
    and the router with the same click routes as FastAPI declares them (the OpenAPI document
    lists them, and they answer alike if reached), the SDK and collect routes, then the
    catalogue admin API on the same store."""
    settings = ctx.settings
    store = CatalogueStore(settings.catalogue_path, settings.affiliates)
    router = APIRouter()
    extra_origins = tuple(origin_of(o) or o for o in settings.collect_origins)
    lookback = timedelta(days=settings.attribution_lookback_days)
    sdk_js = SDK_FILE.read_bytes()
    screen = ClickScreen(settings.bot_click_rate_per_s, settings.bot_click_burst,
                         capacity=settings.rate_limit_buckets)
    collect_cap = settings.collect_max_body_bytes
    minted = MintedClicks(settings.rate_limit_buckets)

    # --- clicks -------------------------------------------------------------------------

    async def track(
        request: Request, query: dict[str, str], resolve: Callable[[Catalogue], Link]
    ) -> Response:
        started = time.perf_counter()
        try:
            try:
                link = resolve(store.current())
                subs, utm = link_params(query)
                user_agent, ip = request.headers.get("user-agent"), _visitor_ip(request, settings)
                bot = screen.reason(user_agent, ip)  # flagged on the click, never dropped
                click, landing_url = make_click(
                    link,
                    new_click_id(),
                    subs=subs,
                    utm=utm,
                    referrer=request.headers.get("referer"),
                    user_agent=user_agent,
                    ip=ip,
                    country=_country(request, settings),
                    device_id=device_id_of(request.cookies.get(DEVICE_COOKIE)),
                    pseudonym_key=ctx.pseudonym_keys,
                    now=utcnow(),
                    bot_reason=bot,
                )
            except LinkError as e:
                INGRESS_REJECTED.labels("tracker", e.reason).inc()
                status = 404 if e.reason.startswith("unknown") else 400
                return page(status, "Link not found" if status == 404 else "Bad link", e.message)
            if bot is not None:
                CLICKS_FLAGGED.labels(bot).inc()
            response = redirect(landing_url)  # before the click is recorded: never half-done
            minted.add(click.click_id, click.brand_id)
            [error] = await ctx.send([click])
            if error is not None:
                INGRESS_REJECTED.labels("tracker", "broker_unavailable").inc()
                log.warning("click_not_acknowledged", error=error)
                return page(
                    503,
                    "Try again in a moment",
                    "The link works, but your visit could not be recorded just now.",
                    {"Retry-After": "5"},
                )
            INGRESS_ACCEPTED.labels("tracker", "click").inc()
            return response
        finally:
            INGRESS_LATENCY.labels("tracker").observe(time.perf_counter() - started)

    async def fast_click_by_code(request: Request) -> Response:
        code = request.path_params["tracking_code"]
        return await track(request, kept_params(request.query_params), lambda c: c.link_by_code(code))

    async def fast_click_by_ids(request: Request) -> Response:
        q = request.query_params
        aff, campaign = q.get("aff"), q.get("campaign")
        return await track(request, kept_params(q), lambda c: c.link_by_ids(aff, campaign))

    fast_routes: list[BaseRoute] = []
    for path, endpoint in (
        ("/c/{tracking_code:path}", fast_click_by_code),
        ("/c", fast_click_by_ids),
    ):
        route = Route(path, endpoint, methods=["GET"], include_in_schema=False)
        route.methods = {"GET"}  # as FastAPI's GET routes: no implicit HEAD (a HEAD is no click)
        fast_routes.append(route)

    # `:path` so that a mangled link (/c/a/b) also gets the visitor's HTML page, not JSON.
    @router.get(
        "/c/{tracking_code:path}",
        response_class=HTMLResponse,
        status_code=302,
        tags=["tracker"],
        responses=LINK_RESPONSES,
    )
    async def click_by_code(
        tracking_code: str, request: Request, query: dict[str, str] = Depends(link_query)
    ) -> Response:
        """A tracking link by its code; sub1..sub5 and utm_* query parameters are kept."""
        return await track(request, query, lambda c: c.link_by_code(tracking_code))

    @router.get(
        "/c", response_class=HTMLResponse, status_code=302, tags=["tracker"], responses=LINK_RESPONSES
    )
    async def click_by_ids(
        request: Request,
        aff: str | None = Query(None, description="Affiliate id"),
        campaign: str | None = Query(None, description="Campaign id"),
        query: dict[str, str] = Depends(link_query),
    ) -> Response:
        """A tracking link by affiliate and campaign id: `/c?aff=A&campaign=C&sub1=...`."""
        return await track(request, query, lambda c: c.link_by_ids(aff, campaign))

    # --- the web SDK ---------------------------------------------------------------------

    @router.get("/sdk/clickpath.js", response_class=JavaScriptResponse, tags=["sdk"])
    def sdk_script() -> Response:
        """The web SDK for landing pages (docs/tracker.md, 'Web SDK')."""
        return JavaScriptResponse(sdk_js, headers={"Cache-Control": "public, max-age=3600"})

    def allowed_origin(origin: str | None) -> bool:
        return bool(origin) and (origin in store.current().brands_by_origin or origin in extra_origins)

    @router.options("/v1/collect", include_in_schema=False)
    def collect_preflight(request: Request) -> Response:
        origin = request.headers.get("origin")
        if not allowed_origin(origin):
            return Response(status_code=403)
        return Response(
            status_code=204,
            headers={
                **_cors(origin),
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            },
        )

    @router.post(
        "/v1/collect",
        status_code=202,
        tags=["sdk"],
        responses={
            403: {"model": Problem, "description": "Not from a landing page's origin."},
            413: {"model": Problem, "description": "A body over collect_max_body_bytes (8192)."},
            429: {"model": Problem, "description": "Rate limit of the IP network; see Retry-After."},
            422: {"model": Problem, "description": "Invalid; `detail[].loc` names the field."},
            503: {"model": Problem, "description": "The broker did not acknowledge."},
        },
    )
    async def collect(request: Request) -> Response:
        """Page context from the web SDK, sent only with the visitor's consent (any content type;
        the SDK sends text/plain JSON, which needs no CORS preflight)."""
        started = time.perf_counter()
        origin = request.headers.get("origin")
        try:
            if not allowed_origin(origin):
                INGRESS_REJECTED.labels("collect", "origin_not_allowed").inc()
                return JSONResponse(
                    {
                        "detail": "collect takes page context from landing pages only"
                        f" (origin {origin!r} is none of them)"
                    },
                    403,
                )
            cors = _cors(origin)
            try:
                body = await request.body()  # the guard stops the read at the cap (counted there)
            except BodyTooLarge:
                return JSONResponse({"detail": f"body over {collect_cap} bytes"}, 413, cors)
            try:
                data = CollectBody.model_validate(json.loads(body or b"null"))
                now = utcnow()
                if not fresh_click_id(data.click_id, now, lookback):
                    raise LinkError("invalid", "not a click id minted within the lookback window", "click_id")
                brand_id = collect_brand(store.current(), origin, data.brand, extra_origins)
                check_collected_page(origin, data.page_url, brand_id, minted.brand_of(data.click_id))
                page_view = make_page_view(  # refuses personal data left in the page's URLs
                    click_id=data.click_id,
                    brand_id=brand_id,
                    page_url=data.page_url,
                    referrer=data.referrer,
                    viewport=data.viewport,
                    language=data.language,
                    platform=data.platform,
                    user_agent=request.headers.get("user-agent"),
                    device_id=data.device_id,
                    ip=_visitor_ip(request, settings),
                    country=_country(request, settings),
                    pseudonym_key=ctx.pseudonym_keys,
                    now=now,
                )
            except (ValueError, LinkError) as e:  # ValidationError and JSON errors are ValueErrors
                INGRESS_REJECTED.labels("collect", _collect_reason(e)).inc()
                return JSONResponse({"detail": [_problem(e)]}, 422, cors)
            [error] = await ctx.send([page_view])
            if error is not None:
                INGRESS_REJECTED.labels("collect", "broker_unavailable").inc()
                return JSONResponse(
                    {"detail": "not acknowledged by the broker"}, 503, {**cors, "Retry-After": "5"}
                )
            INGRESS_ACCEPTED.labels("collect", "page_view").inc()
            return JSONResponse({"status": "accepted", "event_id": page_view.event_id}, 202, cors)
        finally:
            INGRESS_LATENCY.labels("collect").observe(time.perf_counter() - started)

    router.include_router(admin_catalogue_router(ctx, store))
    return fast_routes, router


# --- helpers ------------------------------------------------------------------------------------


class MintedClicks:
    """The brand of each click id this process minted lately (the newest `capacity`), so that
    collect can refuse one brand's click sent from another brand's page. A click id it does not
    know (minted by another process, or before a restart) is not refused for that."""

    def __init__(self, capacity: int) -> None:
        self._brands: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity

    def add(self, click_id: str, brand_id: str) -> None:
        self._brands[click_id] = brand_id
        if len(self._brands) > self._capacity:
            self._brands.popitem(last=False)

    def brand_of(self, click_id: str) -> str | None:
        return self._brands.get(click_id)


def _visitor_ip(request: Request, settings: Settings) -> str | None:
    header = settings.tracker_client_ip_header
    return visitor_ip(
        request.client.host if request.client else None,
        request.headers.get(header) if header else None,
        settings.tracker_proxy_hops,
        settings.trusted_proxy_networks,
    )


def _country(request: Request, settings: Settings) -> str | None:
    """The geo header, believed only from a trusted proxy, as the IP header (a client reaching
    the service directly would choose its country)."""
    header = settings.tracker_country_header
    if not header or not trusted_peer(request.client.host if request.client else None,
                                      settings.trusted_proxy_networks):
        return None
    return country_of(request.headers.get(header))


def _collect_reason(e: Exception) -> str:
    """The metric label of a refused collect: the checks worth telling apart, else invalid."""
    named = ("cross_origin", "cross_brand", "personal_data")
    return e.reason if isinstance(e, LinkError) and e.reason in named else "invalid"


def _cors(origin: str | None) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin or "", "Vary": "Origin"}


def _problem(e: Exception) -> dict[str, Any]:
    """One error in FastAPI's 422 shape: where (`loc`, naming the field) and why (`msg`)."""
    if isinstance(e, ValidationError):
        first = e.errors()[0]
        return {"loc": ["body", *first["loc"]], "msg": first["msg"], "type": first["type"]}
    if isinstance(e, LinkError):
        return {"loc": ["body", e.field], "msg": e.message, "type": "value_error"}
    return {"loc": ["body"], "msg": f"not JSON: {e}", "type": "json_invalid"}
