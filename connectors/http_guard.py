"""The request guard: what every HTTP request passes before a route sees it (an ASGI middleware).

In this order:
1. the per-IP-prefix rate limit of the doors that have one (tracker, collect, postback-in): 429
   with Retry-After;
2. the API key, for every path but the public ones (`PUBLIC_PATHS`, the tracker's `/c/…`),
   taken from the headers before a byte of the body is read: 401 (FastAPI would otherwise
   parse a route's body before its auth dependency runs); the key found is left in the
   request's state for the route's role check (connectors/auth.py);
3. the per-key rate limit of postback-in;
4. the body cap of the route: 413 at once when the declared Content-Length is over it (the
   body is not read), else counted while the route reads it, chunked bodies included: the read
   stops with 413 the moment the count passes the cap.
An answer given before the body was read closes the connection, so a client still sending is
not read to the end.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import structlog
from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clickpath.connectors.auth import STATE_KEY, key_from_request
from clickpath.connectors.keys import ApiKey, KeyStore
from clickpath.connectors.visitor_pages import page
from clickpath.domain.pseudonym import ip_prefix
from clickpath.domain.tracking import visitor_ip
from clickpath.infra.limits import RateLimiter, retry_after
from clickpath.infra.metrics import INGRESS_REJECTED, RATE_LIMITED
from clickpath.settings import Settings

log = structlog.get_logger(__name__)

# Reachable without a key: the landing page, health, the Prometheus scrape, the web SDK and
# what it sends, the API's description (it holds no data), and, by prefix, the documentation's
# assets (`DOCS_ASSETS`) and the tracker's links (`/c`, `/c/…`).
PUBLIC_PATHS = frozenset({
    "/", "/healthz", "/metrics", "/sdk/clickpath.js", "/v1/collect",
    "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
})
DOCS_ASSETS = "/docs/assets/"  # connectors/service_pages.py


def door_of(path: str) -> str:
    """The door a path belongs to, as metrics label it."""
    if path == "/c" or path.startswith("/c/"):
        return "tracker"
    if path == "/v1/collect":
        return "collect"
    if path == "/v1/postback":
        return "postback"
    if path == "/v1/events":
        return "events"
    if path == "/v1/admin" or path.startswith("/v1/admin/"):
        return "admin"
    if path.startswith("/v1/reports/"):
        return "reports"
    return "service"


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a body passes its cap; FastAPI answers it as a 413."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"request body over {cap} bytes", headers={"Connection": "close"})


class HttpGuard:
    def __init__(self, app: ASGIApp, settings: Settings, keys: KeyStore) -> None:
        self.app, self.settings, self.keys = app, settings, keys
        s, n = settings, settings.rate_limit_buckets
        self.caps = {
            "collect": s.collect_max_body_bytes,
            "postback": s.postback_max_body_bytes,
            "admin": s.admin_max_body_bytes,
        }
        self.ip_limits = {
            "tracker": RateLimiter(s.tracker_rate_per_s, s.tracker_rate_burst, capacity=n),
            "collect": RateLimiter(s.collect_rate_per_s, s.collect_rate_burst, capacity=n),
            "postback": RateLimiter(s.postback_rate_per_s, s.postback_rate_burst, capacity=n),
        }
        self.key_limits = {
            "postback": RateLimiter(s.postback_rate_per_s, s.postback_rate_burst, capacity=n),
        }
        self.rates = {
            "tracker": s.tracker_rate_per_s, "collect": s.collect_rate_per_s,
            "postback": s.postback_rate_per_s,
        }
        header = s.tracker_client_ip_header
        self.ip_header = header.lower().encode("latin-1") if header else None
        self.trusted = s.trusted_proxy_networks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        door = door_of(path)
        limiter = self.ip_limits.get(door)
        if limiter is not None:
            wait = limiter.take(self.prefix(scope))
            if wait:
                await self.too_many(door, "ip", wait)(scope, receive, send)
                return
        if door == "tracker":  # the hot path: no key, and the tracker reads no body
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if path not in PUBLIC_PATHS and not path.startswith(DOCS_ASSETS):
            key = self.authenticate(scope, headers, door)
            if not isinstance(key, ApiKey):
                await key(scope, receive, send)
                return
            scope.setdefault("state", {})[STATE_KEY] = key
            key_limiter = self.key_limits.get(door)
            if key_limiter is not None and (wait := key_limiter.take(key.key_id)):
                await self.too_many(door, "key", wait)(scope, receive, send)
                return
        cap = self.caps.get(door, self.settings.http_max_body_bytes)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            INGRESS_REJECTED.labels(door, "oversize").inc()
            await self.refuse(413, f"request body over {cap} bytes", headers)(scope, receive, send)
            return
        await self.app(scope, _counted(receive, cap, door), send)

    def prefix(self, scope: Scope) -> str:
        """The network the caller is in (/24, /48): the name of its rate-limit bucket."""
        client = scope.get("client")
        forwarded = None
        if self.ip_header is not None:
            for name, value in scope["headers"]:
                if name == self.ip_header:
                    forwarded = value.decode("latin-1")
        ip = visitor_ip(client[0] if client else None, forwarded, self.settings.tracker_proxy_hops,
                        self.trusted)
        if ip is None:
            return "-"
        if ":" not in ip:  # IPv4, already checked by visitor_ip: its /24 without parsing again
            return f"{ip[:ip.rfind('.')]}.0/24"
        mapped = ipaddress.IPv6Address(ip).ipv4_mapped  # an IPv4 client of a dual-stack socket
        return ip_prefix(str(mapped) if mapped else ip)

    def authenticate(self, scope: Scope, headers: Headers, door: str) -> ApiKey | Response:
        authorization = headers.get("authorization")
        if authorization is None and door == "postback" and self.settings.postback_query_key:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if query.get("key"):
                authorization = f"Bearer {query['key']}"
        try:
            return key_from_request(self.keys, authorization, door)
        except HTTPException as e:
            return self.refuse(e.status_code, e.detail, headers, e.headers)

    def too_many(self, door: str, scope_name: str, wait: float) -> Response:
        RATE_LIMITED.labels(door, scope_name).inc()
        INGRESS_REJECTED.labels(door, "rate_limited").inc()
        later = {"Retry-After": retry_after(wait if math.isfinite(wait) else 3600)}
        if door == "tracker":
            return page(429, "Too many clicks", "Too many clicks from your network just now; "
                        "try again in a moment.", later)
        per = "IP network" if scope_name == "ip" else "key"
        return JSONResponse(
            {"detail": f"rate limit of this {per}: {self.rates[door]:g} requests/s"}, 429, later
        )

    @staticmethod
    def refuse(
        status: int, detail: Any, request_headers: Headers, headers: Mapping[str, str] | None = None
    ) -> Response:
        """An answer given before the body was read; with one still coming, the connection is
        closed after it rather than the rest being read."""
        extra = dict(headers or {})
        if request_headers.get("content-length", "0") != "0" or "transfer-encoding" in request_headers:
            extra["Connection"] = "close"
        return JSONResponse({"detail": detail}, status, extra)


def _counted(receive: Receive, cap: int, door: str) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > cap:
                INGRESS_REJECTED.labels(door, "oversize").inc()
                raise BodyTooLarge(cap)
        return message

    return counted
