"""The commission routes of the HTTP service: an affiliate's ledger for a period and the
period's statements, as of a time (`GET /v1/reports/ledger`, `GET /v1/reports/statements`;
docs/ledger.md).

The ledger is per affiliate across brands, so a brand-scoped key (operator, analyst) cannot
read it: admin keys read every affiliate, an affiliate key its own only. Amounts are decimal
strings. A bad `period` or `as_of` is a 422 naming it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from clickpath.connectors.analyst_routes import RESPONSES, ask, invalid
from clickpath.connectors.auth import report_scope, require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.domain.commissions.statements import parse_as_of, parse_period
from clickpath.infra.report_slots import ReportSlots
from clickpath.infra.reports import ledger_entries, statement_rows


def _period(period: str) -> str:
    try:
        return parse_period(period)
    except ValueError as e:
        raise invalid("period", str(e), period) from None


def _as_of(as_of: str | None) -> datetime:
    if as_of is None:
        return datetime.now(UTC)
    try:
        return parse_as_of(as_of)
    except ValueError as e:
        raise invalid("as_of", str(e), as_of) from None


def ledger_router(ctx: IngressContext) -> APIRouter:
    settings = ctx.settings
    router = APIRouter()
    slots = ReportSlots()
    reader = require_role(ctx.keys, "reports", "admin", "affiliate")
    as_of_doc = "ISO 8601 time (no zone: UTC) or YYYY-MM-DD (its end); default now"

    @router.get("/v1/reports/ledger", responses=RESPONSES)
    async def ledger_report(
        affiliate_id: str,
        period: str = Query(description="YYYY-MM"),
        as_of: str | None = Query(None, description=as_of_doc),
        key: ApiKey = Depends(reader),
    ) -> list[dict[str, Any]]:
        """The affiliate's ledger entries of the period recorded up to `as_of`, each once, in
        the order recorded: amount, currency, kind, component, plan_id, plan_version,
        caused_by, ... (amounts as decimal strings)."""
        month, at = _period(period), _as_of(as_of)
        scope = report_scope(key, None)
        if scope.affiliate_id is not None and scope.affiliate_id != affiliate_id:
            raise HTTPException(403, f"this key reads affiliate {scope.affiliate_id!r} only")
        rows: list[dict[str, Any]] = await ask(
            slots, key, scope, ledger_entries, settings,
            affiliate_id=affiliate_id, period=month, as_of=at,
            for_affiliate=scope.affiliate_id is not None,
        )
        return rows

    @router.get("/v1/reports/statements", responses=RESPONSES)
    async def statements_report(
        period: str = Query(description="YYYY-MM"),
        as_of: str | None = Query(None, description=as_of_doc),
        key: ApiKey = Depends(reader),
    ) -> list[dict[str, Any]]:
        """One row per affiliate and payout currency: cpa_count, cpa_amount, revshare_amount,
        sub_affiliate_amount, clawback_amount, carry_over, total (the exact sum of the
        entries up to `as_of`), status, as_of, entries."""
        month, at = _period(period), _as_of(as_of)
        scope = report_scope(key, None)
        rows: list[dict[str, Any]] = await ask(
            slots, key, scope, statement_rows, settings, period=month, as_of=at,
        )
        if scope.affiliate_id is not None:  # its own rows, without the operator's key ids
            rows = [{**r, "closed_by": None, "paid_by": None} for r in rows
                    if r["affiliate_id"] == scope.affiliate_id]
        return rows

    return router
