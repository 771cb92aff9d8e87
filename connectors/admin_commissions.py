"""The commission admin API: close a period, adjust the ledger, pay a statement, and the log
of those actions (admin keys; docs/commissions.md#close-and-pay).

The actor recorded (in the ledger's log and the audit trail) is the key's id; `requested_by`
names the person (the CLI sends the OS user), kept beside it. A refused action is a 409 (404
for an unknown statement, 422 for a bad field) with the reason; a ClickHouse failure a 503
without the driver's words.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from clickpath.connectors.auth import require_role
from clickpath.connectors.catalogue import CatalogueStore
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.contracts.models import Currency
from clickpath.domain.catalogue import CATALOGUE_ID_PATTERN
from clickpath.domain.commissions.close import CloseRefused
from clickpath.domain.commissions.statements import parse_period
from clickpath.infra import commission_ops
from clickpath.infra.closes import Actor

log = structlog.get_logger(__name__)
T = TypeVar("T")

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown key."},
    403: {"description": "Not an admin key."},
    404: {"description": "No such statement."},
    409: {"description": "Refused: the reason says why (closed, unpaid, under the minimum...)."},
    422: {"description": "A bad field, named."},
    503: {"description": "ClickHouse not reachable (details only in the log)."},
}
PeriodPath = Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
Person = Field(default="", max_length=100, description="Who asks, kept beside the key id.")


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requested_by: str = Person


class AdjustBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    affiliate_id: str = Field(pattern=CATALOGUE_ID_PATTERN, max_length=64)
    amount: Decimal = Field(max_digits=20, decimal_places=6, description="Signed, e.g. -50.00")
    currency: Currency
    reason: str = Field(max_length=200)
    period: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                               description="Default: the open period of today.")
    requested_by: str = Person


class PayBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=200, description="The payment's reference.")
    requested_by: str = Person


def adjustment_detail(period: str, amount: Decimal, currency: str, reason: str,
                      requested_by: str) -> dict[str, Any]:
    """What the audit trail keeps of a ledger adjustment (the API's and the CLI's)."""
    return {"period": period, "amount": f"{amount:f}", "currency": str(currency), "reason": reason,
            "requested_by": requested_by}


async def operate(what: str, job: Callable[[], T]) -> T:
    """Run an operation off the event loop; its refusal as an HTTP answer with its words."""
    try:
        return await run_in_threadpool(job)
    except CloseRefused as e:
        raise HTTPException(e.status, str(e)) from None
    except HTTPException:
        raise
    except Exception as e:  # never the DSN or the driver's words to a caller
        log.error("commission_operation_failed", operation=what, error_type=type(e).__name__)
        raise HTTPException(503, f"{what} failed: ClickHouse is not reachable now") from None


def admin_commissions_router(ctx: IngressContext) -> APIRouter:
    settings = ctx.settings
    catalogue = CatalogueStore(settings.catalogue_path, settings.affiliates)
    admin = require_role(ctx.keys, "admin", "admin")
    router = APIRouter(prefix="/v1/admin", tags=["admin"])

    @router.post("/periods/{period}/close", responses=PROBLEMS)
    async def close_period(
        request: Request, body: CloseBody | None = None, period: str = PeriodPath,
        key: ApiKey = Depends(admin),
    ) -> dict[str, Any]:
        """Close the period (it must have ended): its statements freeze, a total under the
        affiliate's minimum payout rolls over into the next period, positive totals get
        invoice numbers, each row's statement_closed webhook goes out. A second close changes
        nothing (`closed`: false)."""
        month = parse_period(period)
        minimums = {a: c.min_payout for a, c in catalogue.current().affiliates.items()}
        actor = Actor(key.key_id, body.requested_by if body else "")
        result: dict[str, Any] = await operate("close", lambda: commission_ops.close_statements(
            settings, period=month, actor=actor, min_payouts=minimums))
        if result["closed"]:  # a second close changes nothing: nothing to record
            log.info("period_closed", period=month, key_id=key.key_id, rows=len(result["rows"]))
            await ctx.arecord(request, key, kind="period.closed", subject=f"period:{month}",
                              detail={"rows": len(result["rows"]), "requested_by": actor.requested_by})
        return result

    @router.post("/ledger/adjustments", status_code=201, responses=PROBLEMS)
    async def adjust(body: AdjustBody, request: Request, key: ApiKey = Depends(admin)) -> dict[str, Any]:
        """Write an `adjustment` entry (component `manual`) with the reason, in an open period."""
        entry: dict[str, Any] = await operate("adjust", lambda: commission_ops.adjust_ledger(
            settings, affiliate_id=body.affiliate_id, amount=body.amount, currency=body.currency,
            reason=body.reason, period=body.period, actor=Actor(key.key_id, body.requested_by)))
        log.info("ledger_adjusted", affiliate_id=body.affiliate_id, period=entry["period"],
                 key_id=key.key_id)
        await ctx.arecord(request, key, kind="ledger.adjusted", subject=f"affiliate:{body.affiliate_id}",
                          detail=adjustment_detail(entry["period"], body.amount, body.currency,
                                                   body.reason, body.requested_by))
        return entry

    @router.post("/statements/{period}/{affiliate_id}/payment", responses=PROBLEMS)
    async def pay(
        body: PayBody, request: Request, period: str = PeriodPath,
        affiliate_id: str = Path(pattern=CATALOGUE_ID_PATTERN), key: ApiKey = Depends(admin),
    ) -> list[dict[str, Any]]:
        """Mark the affiliate's closed statement of the period paid (the same reference again
        changes nothing); its rows after."""
        rows: list[dict[str, Any]] = await operate("pay", lambda: commission_ops.pay_statement(
            settings, period=period, affiliate_id=affiliate_id, reference=body.reference,
            actor=Actor(key.key_id, body.requested_by)))
        log.info("statement_paid", period=period, affiliate_id=affiliate_id, key_id=key.key_id)
        await ctx.arecord(request, key, kind="statement.paid",
                          subject=f"statement:{period}/{affiliate_id}",
                          detail={"reference": body.reference, "rows": len(rows),
                                  "requested_by": body.requested_by})
        return rows

    @router.get("/commission-actions", responses=PROBLEMS)
    async def actions(
        limit: int = Query(200, ge=1, le=10_000), _key: ApiKey = Depends(admin),
    ) -> list[dict[str, Any]]:
        """Closes, adjustments and payments, newest first: who (key id and person), what, when."""
        rows: list[dict[str, Any]] = await operate(
            "actions", lambda: commission_ops.commission_actions(settings, limit=limit))
        return rows

    return router
