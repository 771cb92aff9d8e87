"""The commission operations on the sink's loopback endpoint, when ClickHouse is embedded:
close a period, adjust the ledger, pay a statement, list the operator actions, read an
affiliate's statements (infra/closes.py does them; this only carries them over loopback).

Only the HTTP service calls these (with the run's reports token, as every loopback route): it
has authenticated the admin or affiliate key and passes the key id as the actor. A refused
action (CloseRefused) answers its status with the reason, which is the operator's to read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from clickpath.domain.commissions.close import CloseRefused
from clickpath.domain.redact import redact
from clickpath.infra import closes, statement_reads
from clickpath.infra.clickhouse import ClickHouseError
from clickpath.settings import Settings

T = TypeVar("T")


class CloseRequest(BaseModel):
    period: str
    actor: str
    requested_by: str = ""
    min_payouts: dict[str, Decimal | None] = Field(default={}, max_length=100_000)


class AdjustRequest(BaseModel):
    affiliate_id: str
    amount: Decimal
    currency: str
    reason: str
    period: str | None = None
    actor: str
    requested_by: str = ""


class PayRequest(BaseModel):
    period: str
    affiliate_id: str
    reference: str
    actor: str
    requested_by: str = ""


def operations_router(
    settings: Settings, client: Any, lock: threading.Lock,
    held: Callable[[Any, str], frozenset[str]],
) -> APIRouter:
    """The routes, on the report reader's session `client` under its `lock`; `held` gives the
    affiliates a fraud hold applies to now (their closed rows read `on_hold`)."""
    router = APIRouter(prefix="/commissions")
    db = settings.clickhouse_database

    def run(what: str, job: Callable[[], T]) -> T:
        try:
            with lock:
                return job()
        except CloseRefused as e:
            raise HTTPException(e.status, str(e)) from None
        except Exception as e:
            raise ClickHouseError(redact(f"{what} failed: {e}")) from e

    def holds() -> frozenset[str]:
        return held(client, db)

    @router.post("/close")
    def close(request: CloseRequest) -> dict[str, Any]:
        rows, closed = run("close", lambda: closes.close_period(
            client, db, period=request.period, zone=settings.commission_zone,
            actor=closes.Actor(request.actor, request.requested_by),
            min_payouts=request.min_payouts.get, holds=holds(),
            invoice_prefix=settings.invoice_number_prefix))
        return {"period": request.period, "closed": closed, "rows": [r.as_json() for r in rows]}

    @router.post("/adjust")
    def adjust(request: AdjustRequest) -> dict[str, Any]:
        from clickpath.domain.commissions.statements import entry_json

        entry = run("adjust", lambda: closes.adjust(
            client, db, affiliate_id=request.affiliate_id, amount=request.amount,
            currency=request.currency, reason=request.reason, period=request.period,
            actor=closes.Actor(request.actor, request.requested_by),
            zone=settings.commission_zone))
        return entry_json(entry)

    @router.post("/pay")
    def pay(request: PayRequest) -> list[dict[str, Any]]:
        rows = run("pay", lambda: closes.pay(
            client, db, period=request.period, affiliate_id=request.affiliate_id,
            reference=request.reference, actor=closes.Actor(request.actor, request.requested_by),
            holds=holds()))
        return [r.as_json() for r in rows]

    @router.get("/actions")
    def actions(limit: int = 1000) -> list[dict[str, Any]]:
        return run("actions", lambda: statement_reads.actions(client, db, limit=limit))

    @router.get("/invoice")
    def invoice(affiliate_id: str, number: str) -> dict[str, Any]:
        from clickpath.domain.commissions.statements import entry_json

        found = run("invoice", lambda: statement_reads.invoice_source(
            client, db, affiliate_id=affiliate_id, invoice=number))
        if found is None:
            raise HTTPException(404, f"no invoice {number[:40]!r}")
        row, entries = found
        return {"row": row.as_json(), "entries": [entry_json(e) for e in entries]}

    @router.get("/statements")
    def statements(affiliate_id: str, period: str | None = None,
                   as_of: datetime | None = None) -> list[dict[str, Any]]:
        rows = run("statements", lambda: statement_reads.affiliate_statements(
            client, db, affiliate_id=affiliate_id, period=period, as_of=as_of,
            zone=settings.commission_zone, holds=holds()))
        return [r.as_json() for r in rows]

    return router
