"""Bearer-key authentication for the HTTP doors: a FastAPI dependency per set of roles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Header, HTTPException, Request
from pydantic import BaseModel

from clickpath.connectors.keys import ApiKey, KeyStore, Role
from clickpath.infra.metrics import INGRESS_REJECTED


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
        key = key_from_request(store, authorization, door)
        if key.role not in roles:
            INGRESS_REJECTED.labels(door, "forbidden").inc()
            raise HTTPException(403, f"a {key.role} key cannot use this; it needs: {', '.join(roles)}")
        return key

    return dependency
