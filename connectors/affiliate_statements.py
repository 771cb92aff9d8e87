"""The affiliate's own commission routes: its ledger, its statements (open and closed, with
status, invoice and payment) and its invoices (docs/commissions.md#the-affiliate-api).

The affiliate comes from the key: an affiliate key reads its own affiliate and nobody else's
(another `affiliate_id` is a 403, another affiliate's invoice number a 404 like a made-up one);
an admin key names the affiliate with `?affiliate_id=`. Brand-scoped keys (operator, analyst)
cannot read them: the ledger is per affiliate across brands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from clickpath.connectors.admin_commissions import operate
from clickpath.connectors.auth import require_role
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.domain.catalogue import CATALOGUE_ID_PATTERN
from clickpath.domain.commissions.statements import parse_as_of, parse_period
from clickpath.infra import commission_ops
from clickpath.infra.reports import ledger_entries

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No, unknown or revoked API key."},
    403: {"description": "Not an affiliate or admin key, or another affiliate's data."},
    422: {"description": "A bad parameter, named."},
    503: {"description": "ClickHouse not reachable (details only in the log)."},
}
AffiliateQuery = Query(None, pattern=CATALOGUE_ID_PATTERN,
                       description="Admin keys: the affiliate. Affiliate keys: their own only.")


def own_affiliate(key: ApiKey, asked: str | None) -> str:
    """The affiliate a request reads: the key's own (an affiliate key), or the one an admin key
    names. Never the query's for an affiliate key."""
    if key.role == "affiliate":
        if key.affiliate_id is None:
            raise HTTPException(403, "this affiliate key names no affiliate")
        if asked is not None and asked != key.affiliate_id:
            raise HTTPException(403, f"this key reads affiliate {key.affiliate_id!r} only")
        return key.affiliate_id
    if asked is None:
        raise HTTPException(422, "affiliate_id: an admin key names the affiliate to read")
    return asked


def _field(name: str, parse: Any, value: str) -> Any:
    try:
        return parse(value)
    except ValueError as e:
        raise HTTPException(422, f"{name}: {e}") from None


def affiliate_statements_router(ctx: IngressContext) -> APIRouter:
    settings = ctx.settings
    reader = require_role(ctx.keys, "affiliate", "affiliate", "admin")
    router = APIRouter(prefix="/v1/affiliate", tags=["affiliate"])

    @router.get("/ledger", responses=RESPONSES)
    async def ledger(
        period: str = Query(description="YYYY-MM"), as_of: str | None = Query(None),
        affiliate_id: str | None = AffiliateQuery, key: ApiKey = Depends(reader),
    ) -> list[dict[str, Any]]:
        """The affiliate's ledger entries that the period pays (its own, and late entries of
        closed periods before it), each once, in the order recorded: amount, kind, component,
        reason, plan, the player's token, the events that caused it."""
        who = own_affiliate(key, affiliate_id)
        month = _field("period", parse_period, period)
        at = datetime.now(UTC) if as_of is None else _field("as_of", parse_as_of, as_of)
        rows: list[dict[str, Any]] = await operate("ledger", lambda: ledger_entries(
            settings, affiliate_id=who, period=month, as_of=at))
        return rows

    @router.get("/statements", responses=RESPONSES)
    async def statements(
        period: str | None = Query(None, description="YYYY-MM; default every period"),
        affiliate_id: str | None = AffiliateQuery, key: ApiKey = Depends(reader),
    ) -> list[dict[str, Any]]:
        """The affiliate's statement rows, newest period first: amounts, total, status (open,
        on_hold, closed, under_minimum, paid), invoice number, close and payment."""
        who = own_affiliate(key, affiliate_id)
        month = None if period is None else _field("period", parse_period, period)
        rows: list[dict[str, Any]] = await operate("statements", lambda: (
            commission_ops.affiliate_statements(settings, affiliate_id=who, period=month, as_of=None)))
        return rows

    return router
