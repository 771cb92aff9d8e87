"""What a person's browser gets from the service itself: a landing page at `/`, and the API
documentation (`/docs` Swagger UI, `/redoc` ReDoc) served with no CDN.

FastAPI's own doc pages load their JavaScript and CSS from a CDN, so on a machine without
Internet access (or behind a strict Content-Security-Policy) `/docs` was a blank page; and `/`
was a 401, the first thing a newcomer saw. The assets here come from the `fastapi-offline`
package (Swagger UI 5, which renders the OpenAPI 3.1 document FastAPI writes, and ReDoc),
read once at start and served from `/docs/assets/`. None of these pages holds data or needs a
key (the guard lists them as public, connectors/http_guard.py).
"""

from __future__ import annotations

import html
from importlib.resources import files

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse

ASSETS_PREFIX = "/docs/assets/"
_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")

# The documentation pages of a clickpath checkout (docs/), named on the landing page: they are
# not served (they are not package data), but a newcomer should know where to look.
DOC_PAGES = (
    ("http-api.md", "the HTTP API: doors, keys, limits, the operator SDK"),
    ("tracker.md", "tracking links, the click record and the web SDK"),
    ("import.md", "importing history with `clickpath import`"),
    ("analytics.md", "reports and analyst SQL"),
    ("security.md", "what is protected and how"),
    ("settings.md", "every setting"),
    ("operations.md", "metrics, alerts, running it"),
)


def _asset_bytes() -> dict[str, tuple[bytes, str]]:
    static = files("fastapi_offline") / "static"
    return {name: ((static / name).read_bytes(), _MEDIA_TYPES[name[name.rfind("."):]]) for name in ASSETS}


def service_pages(app: FastAPI) -> APIRouter:
    """The landing page, the two documentation pages and their assets, for `app` (whose
    `docs_url` and `redoc_url` must be None, so that FastAPI's CDN pages are not mounted)."""
    router = APIRouter(include_in_schema=False)
    assets = _asset_bytes()
    openapi_url = app.openapi_url or "/openapi.json"

    @router.get("/")
    def landing(request: Request) -> Response:
        """HTML for a browser, a small JSON index for anything else; never data."""
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"service": "clickpath", "docs": "/docs", "openapi": openapi_url,
                                 "health": "/healthz"})
        return HTMLResponse(_landing_html(app.title, app.version, openapi_url))

    @router.get("/docs")
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API docs",
            swagger_js_url=f"{ASSETS_PREFIX}swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PREFIX}swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PREFIX}favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @router.get("/docs/oauth2-redirect")
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get("/redoc")
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API reference",
            redoc_js_url=f"{ASSETS_PREFIX}redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PREFIX}favicon.png",
            with_google_fonts=False,  # fonts from Google are a CDN too
        )

    @router.get(ASSETS_PREFIX + "{name}")
    def asset(name: str) -> Response:
        found = assets.get(name)
        if found is None:
            return JSONResponse({"detail": "Not Found"}, 404)
        body, media_type = found
        return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    return router


def _landing_html(title: str, version: str, openapi_url: str) -> str:
    pages = "".join(
        f"<li><code>docs/{html.escape(name)}</code>: {html.escape(what)}</li>" for name, what in DOC_PAGES
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">'
        f"<h1>{html.escape(title)} <small style=\"color: #666\">{html.escape(version)}</small></h1>"
        "<p>An affiliate-tracking pipeline for iGaming operators: it takes clicks, registrations, "
        "deposits and postbacks in, attributes players to affiliates, pays commissions, sends "
        "partners their postbacks and reports from ClickHouse.</p>"
        "<p>This service is its HTTP side. Its API needs a key (<code>clickpath keys create</code>); "
        "this page, the API documentation and <code>/healthz</code> do not.</p>"
        "<h2>API documentation</h2><ul>"
        '<li><a href="/docs">/docs</a>: every route, with Swagger UI (try requests with a key)</li>'
        '<li><a href="/redoc">/redoc</a>: the same, as a reference to read</li>'
        f'<li><a href="{html.escape(openapi_url)}">{html.escape(openapi_url)}</a>: the OpenAPI document</li>'
        '<li><a href="/healthz">/healthz</a>: is it up</li></ul>'
        "<h2>Documentation</h2><p>In the clickpath source, next to the README:</p>"
        f"<ul>{pages}</ul></body></html>"
    )
