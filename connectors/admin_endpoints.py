"""Admin API for postback and webhook endpoints: the same changes as `clickpath postbacks`.

Changes land in `<data_dir>/endpoints.json`, which the delivery process re-reads, so they are
effective at once. Secrets are never shown again after they are made: a new endpoint with
`"sign": true` (and every webhook) gets one in the answer to its creation only.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field, ValidationError

from clickpath.connectors.auth import require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.domain.endpoints import Endpoint, validation_message
from clickpath.domain.presets import PRESETS, preset_view
from clickpath.domain.signing import new_secret
from clickpath.infra.endpoint_store import EndpointStore, check_destination

EndpointId = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="e.g. aff-1-main")


class EndpointChange(BaseModel):
    kind: Literal["postback", "webhook"] = "postback"
    affiliate_id: str | None = None
    brand_id: str | None = None
    url: str | None = Field(default=None, description="A URL template (a webhook: a URL).")
    preset: str | None = Field(
        default=None, description="Postbacks: a tracker preset (GET /v1/admin/endpoints/presets)."
    )
    base_url: str | None = Field(default=None, description="With a preset: the tracker's URL.")
    params: dict[str, str] = Field(default={}, description="Preset overrides, e.g. goal_ftd=3.")
    method: Literal["GET", "POST"] | None = None
    body: Literal["none", "form", "json"] = "none"
    events: list[str] | None = Field(default=None, description="Optional with a preset.")
    sign: bool = Field(default=False, description="Make a signing secret (always for webhooks).")


class Disable(BaseModel):
    reason: str = Field(default="disabled by an administrator", max_length=500)


def endpoint_detail(action: str, e: Endpoint) -> dict[str, Any]:
    """What the audit trail keeps of an endpoint change (the API's and the CLI's): never its
    secret or URL (a template may carry an affiliate's token)."""
    return {"action": action, "kind": e.kind, "affiliate_id": e.affiliate_id, "brand_id": e.brand_id,
            "events": list(e.events), "signed": bool(e.secret), "enabled": e.enabled,
            "preset": e.preset}


def _view(e: Endpoint) -> dict[str, Any]:
    return e.model_dump(mode="json", exclude={"secret", "previous_secrets"}) | {"signed": bool(e.secret)}


def admin_endpoints_router(ctx: IngressContext) -> APIRouter:
    settings = ctx.settings
    store = EndpointStore.from_settings(settings)
    admin = require_role(ctx.keys, "admin", "admin")
    router = APIRouter(prefix="/v1/admin/endpoints", tags=["admin"])
    problems: dict[int | str, dict[str, Any]] = {401: {"description": "No or unknown key."},
                                                 403: {"description": "Not an admin key."}}

    @router.get("", responses=problems)
    def list_endpoints(_key: ApiKey = Depends(admin)) -> list[dict[str, Any]]:
        """Every postback and webhook endpoint in effect (secrets are not shown)."""
        return [_view(e) for e in store.current().values()]

    @router.get("/presets", responses=problems)
    def list_presets(_key: ApiKey = Depends(admin)) -> list[dict[str, Any]]:
        """The postback presets: each tracker's parameters, overrides and reversal support."""
        return [preset_view(p) for p in PRESETS.values()]

    @router.put("/{endpoint_id}", responses={**problems, 422: {"description": "Invalid endpoint."}})
    def put_endpoint(change: EndpointChange, request: Request, endpoint_id: str = EndpointId,
                     key: ApiKey = Depends(admin)) -> dict[str, Any]:
        """Add or replace an endpoint; effective on the running delivery process at once."""
        secret = new_secret() if change.sign or change.kind == "webhook" else None
        url = change.base_url if change.preset else change.url
        if change.preset and (change.url or not change.base_url):
            raise HTTPException(422, "base_url: a preset takes the tracker's base_url (not url)")
        if not url or (not change.preset and not change.events):
            raise HTTPException(422, "url and events are required (or preset and base_url)")
        try:
            endpoint = Endpoint.model_validate({
                "endpoint_id": endpoint_id, "kind": change.kind, "affiliate_id": change.affiliate_id,
                "brand_id": change.brand_id, "url": url,
                "method": change.method or ("POST" if change.kind == "webhook" else "GET"),
                "body": change.body, "events": change.events or [], "secret": secret,
                "preset": change.preset, "params": change.params,
            })
        except ValidationError as e:
            raise HTTPException(422, validation_message(e)) from None
        try:
            check_destination(endpoint, settings.egress_allow)
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        store.put(endpoint)
        ctx.record(request, key, kind="endpoint.changed", subject=f"endpoint:{endpoint_id}",
                   detail=endpoint_detail("put", endpoint))
        return _view(endpoint) | ({"secret": secret} if secret else {})

    @router.post("/{endpoint_id}/disable", responses={**problems, 404: {"description": "No such endpoint."}})
    def disable(body: Disable, request: Request, endpoint_id: str = EndpointId,
                key: ApiKey = Depends(admin)) -> dict[str, Any]:
        try:
            endpoint = store.disable(endpoint_id, body.reason)
        except LookupError as e:
            raise HTTPException(404, str(e)) from None
        ctx.record(request, key, kind="endpoint.changed", subject=f"endpoint:{endpoint_id}",
                   detail=endpoint_detail("disable", endpoint))
        return _view(endpoint)

    @router.post("/{endpoint_id}/enable", responses={**problems, 404: {"description": "No such endpoint."}})
    def enable(request: Request, endpoint_id: str = EndpointId,
               key: ApiKey = Depends(admin)) -> dict[str, Any]:
        try:
            endpoint = store.enable(endpoint_id)
        except LookupError as e:
            raise HTTPException(404, str(e)) from None
        ctx.record(request, key, kind="endpoint.changed", subject=f"endpoint:{endpoint_id}",
                   detail=endpoint_detail("enable", endpoint))
        return _view(endpoint)

    return router
