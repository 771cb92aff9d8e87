"""Bearer-key authentication for the HTTP doors: a FastAPI dependency per set of roles, and the
scope a key gives to reports.

The key is checked twice over: by the request guard (connectors/http_guard.py) before anything
reads the body, which leaves the key it found in the request's state, and by these dependencies
for the role, reusing that key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Header, HTTPException, Request
from pydantic import BaseModel

from clickpath.connectors.keys import BRAND_BOUND, ApiKey, KeyStore, Role
from clickpath.infra.metrics import INGRESS_REJECTED

STATE_KEY = "api_key"  # where the guard leaves the authenticated key in the ASGI scope's state


class Problem(BaseModel):
    """The body of every error answer (FastAPI's `{"detail": ...}`), for the OpenAPI document."""

    detail: Any


def key_from_request(store: KeyStore, authorization: str | None, door: str) -> ApiKey:
    """The caller's active key; 401 when absent or unknown (revoked keys are unknown)."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        INGRESS_REJECTED.labels(door, "unauthenticated").inc()
        raise HTTPException(
            401, "send the API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = store.authenticate(presented.strip())
    if key is None:
        INGRESS_REJECTED.labels(door, "unauthenticated").inc()
        raise HTTPException(
            401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    return key


def require_role(store: KeyStore, door: str, *roles: Role) -> Callable[..., ApiKey]:
    """A dependency giving the caller's key, refusing (403) keys of any other role."""

    def dependency(request: Request, authorization: str | None = Header(default=None)) -> ApiKey:
        key = guarded_key(request) or key_from_request(store, authorization, door)
        if key.role not in roles:
            INGRESS_REJECTED.labels(door, "forbidden").inc()
            article = "an" if key.role[:1] in "aeiou" else "a"  # an operator, an admin, an analyst key
            raise HTTPException(
                403, f"{article} {key.role} key cannot use this; it needs: {', '.join(roles)}"
            )
        return key

    return dependency


def guarded_key(request: Request) -> ApiKey | None:
    """The key the request guard authenticated for this request, if it did."""
    key = request.scope.get("state", {}).get(STATE_KEY)
    return key if isinstance(key, ApiKey) else None


@dataclass(frozen=True)
class ReportScope:
    """What a key may read of the reports: None is 'every'."""

    brand_id: str | None
    affiliate_id: str | None


def report_scope(key: ApiKey, requested_brand: str | None) -> ReportScope:
    """The brand (and affiliate) a report is limited to, from the key, never from the query.

    Admin: every brand, or the one asked for. Operator and analyst: their brand only (asking
    for another is 403). Affiliate: its own affiliate, in its brand if it has one, else in the
    brand asked for (or all of them)."""
    if key.role == "admin":
        return ReportScope(requested_brand, None)
    if key.role in BRAND_BOUND and not key.brand_id:
        raise HTTPException(403, f"this {key.role} key is bound to no brand; mint one with --brand")
    if key.brand_id and requested_brand not in (None, key.brand_id):
        INGRESS_REJECTED.labels("reports", "forbidden").inc()
        raise HTTPException(403, f"this key reads brand {key.brand_id!r} only")
    if key.role == "affiliate":
        if not key.affiliate_id:
            raise HTTPException(403, "this affiliate key names no affiliate")
        return ReportScope(key.brand_id or requested_brand, key.affiliate_id)
    return ReportScope(key.brand_id, None)
