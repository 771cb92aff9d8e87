"""The plans admin API: list plans, show one with every version and where it came from, add a
version (admin key). Versions are never edited: a change is a new version with its date.

Kept in `<data_dir>/plans.json` (clickpath/infra/plan_store.py); the worker re-reads it, so a new
version applies to the running engine from its `effective_from`. Bodies are bounded by the
admin door's cap before they are read (connectors/http_guard.py).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from clickpath.connectors.auth import require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.contracts.models import utcnow
from clickpath.domain.plans import PlanBook, PlanError
from clickpath.domain.plans.terms import PlanVersion
from clickpath.infra.plan_store import plan_store_of

log = structlog.get_logger(__name__)

PlanId = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Plan id.")


class VersionChange(BaseModel):
    """A new version of a plan, and (for a new plan, or to change whom it pays) its assignments."""

    model_config = ConfigDict(extra="forbid")
    version: dict[str, Any] = Field(
        description="effective_from, currency, cpa, revshare, sub_affiliate_share")
    assign: list[dict[str, Any]] | None = Field(default=None, max_length=1000)


def plan_view(book: PlanBook, plan_id: str) -> dict[str, Any]:
    """A plan as `plans show` and the API print it: assignments and every version, with its source."""
    return {
        "plan_id": plan_id,
        "assign": [a.model_dump(mode="json") for a in book.assignments if a.plan_id == plan_id],
        "versions": [
            {"version": v.version, "kind": v.kind, "source": v.source,
             "recorded_at": v.recorded_at.isoformat() if v.recorded_at else None,
             **v.model_dump(mode="json", by_alias=True, exclude_none=True,
                            exclude={"plan_id", "version", "source", "recorded_at"})}
            for v in book.versions_of(plan_id)
        ],
    }


def version_detail(added: PlanVersion, assigned: bool) -> dict[str, Any]:
    """What the audit trail keeps of a new plan version (the API's and `plans add`'s)."""
    return {"version": added.version, "kind": added.kind, "effective_from": str(added.effective_from),
            "currency": str(added.currency), "assign_changed": assigned}


def admin_plans_router(ctx: IngressContext) -> APIRouter:
    store = plan_store_of(ctx.settings)
    admin = require_role(ctx.keys, "admin", "admin")
    router = APIRouter(prefix="/v1/admin/plans", tags=["admin"])
    problems: dict[int | str, dict[str, Any]] = {401: {"description": "No or unknown key."},
                                                 403: {"description": "Not an admin key."}}

    @router.get("", responses=problems)
    def list_plans(_key: ApiKey = Depends(admin)) -> list[dict[str, Any]]:
        """Every plan in effect (configuration plus admin versions)."""
        book = store.current()
        return [plan_view(book, p) for p in book.plan_ids()]

    @router.get("/{plan_id}", responses={**problems, 404: {"description": "No such plan."}})
    def show_plan(plan_id: str = PlanId, _key: ApiKey = Depends(admin)) -> Any:
        book = store.current()
        if plan_id not in book.plan_ids():
            return JSONResponse({"detail": f"no plan {plan_id!r}"}, 404)
        return plan_view(book, plan_id)

    @router.post("/{plan_id}/versions", status_code=201,
                 responses={**problems, 422: {"description": "Invalid version (the field is named)."}})
    def add_version(change: VersionChange, request: Request, plan_id: str = PlanId,
                    key: ApiKey = Depends(admin)) -> Any:
        """Add a version; it applies from its effective_from, earlier periods keep their terms."""
        raw: dict[str, Any] = {"versions": [change.version]}
        if change.assign is not None:
            raw["assign"] = change.assign
        try:
            added = store.add_version(plan_id, raw, utcnow())
        except PlanError as e:
            return JSONResponse({"detail": [{"loc": ["body"], "msg": str(e), "type": "value_error"}]}, 422)
        log.info("plan_version_added", plan_id=plan_id, version=added.version, key_id=key.key_id,
                 effective_from=str(added.effective_from))
        ctx.record(request, key, kind="plan.version_added", subject=f"plan:{plan_id}",
                   detail=version_detail(added, change.assign is not None))
        return plan_view(store.current(), plan_id)

    return router
