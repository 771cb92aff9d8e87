"""Close, adjust, pay and read statements, whoever asks (the HTTP service, the CLI against a
ClickHouse server): with embedded ClickHouse through the sink that owns the engine
(sinks/clickhouse/operations.py), else on a client of its own (infra/closes.py).

A refusal comes back as CloseRefused with the sink's status and words either way, so the
caller answers the same whichever way the work was done.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import orjson
import structlog

from clickpath.domain.commissions.close import CloseRefused
from clickpath.domain.commissions.statements import entry_json
from clickpath.infra import closes, statement_reads
from clickpath.infra.clickhouse import connect
from clickpath.infra.reports import ANALYTICS_TIMEOUT_S, loopback_headers
from clickpath.infra.statement_webhooks import publish_statement_closed
from clickpath.settings import Settings

log = structlog.get_logger(__name__)

T = TypeVar("T")


def _call(
    settings: Settings, method: str, path: str, direct: Callable[[Any, str], T],
    *, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
) -> Any:
    if not settings.clickhouse_embedded:
        client = connect(settings)
        try:
            return direct(client, settings.clickhouse_database)
        finally:
            client.close()
    if not settings.reports_url:
        raise RuntimeError("ClickHouse is embedded (chdb) and no CLICKPATH_REPORTS_URL names the"
                           " sink that owns it: run the pipeline with `clickpath up`")
    wire = {k: str(v) for k, v in (params or {}).items() if v is not None}
    response = httpx.request(
        method, f"{settings.reports_url}/commissions{path}", params=wire,
        content=None if body is None else _json(body), timeout=ANALYTICS_TIMEOUT_S,
        headers={**loopback_headers(settings), "Content-Type": "application/json"},
    )
    if response.status_code in (404, 409, 422) and "detail" in response.text:
        detail = response.json().get("detail")
        raise CloseRefused(detail if isinstance(detail, str) else str(detail), response.status_code)
    response.raise_for_status()
    return response.json()


def _json(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, default=str)


def close_statements(
    settings: Settings, *, period: str, actor: closes.Actor, min_payouts: dict[str, Decimal | None],
) -> dict[str, Any]:
    """Close `period`: {period, closed (False: it was already), rows, webhooks}. Each row's
    `statement_closed` webhook is published (`webhooks`: how many); publishing skips those
    already on the topic, so closing again publishes what a failure left out, and nothing twice."""
    def direct(client: Any, db: str) -> dict[str, Any]:
        rows, closed = closes.close_period(
            client, db, period=period, actor=actor, zone=settings.commission_zone,
            min_payouts=min_payouts.get, holds=closes.held_affiliates(client, db),
            invoice_prefix=settings.invoice_number_prefix)
        return {"period": period, "closed": closed, "rows": [r.as_json() for r in rows]}

    closed: dict[str, Any] = _call(settings, "POST", "/close", direct, body={
        "period": period, "actor": actor.key_id, "requested_by": actor.requested_by,
        "min_payouts": min_payouts,
    })
    try:
        closed["webhooks"] = publish_statement_closed(settings, closed["rows"])
    except Exception as e:  # the close stands; closing again publishes what is missing
        log.error("statement_closed_not_published", period=period, error_type=type(e).__name__)
        closed["webhooks"] = None
        closed["webhooks_error"] = ("the statement_closed webhooks could not be published now;"
                                    " close the period again to publish them")
    return closed


def adjust_ledger(
    settings: Settings, *, affiliate_id: str, amount: Decimal, currency: str, reason: str,
    period: str | None, actor: closes.Actor,
) -> dict[str, Any]:
    """An adjustment entry (as JSON values)."""
    def direct(client: Any, db: str) -> dict[str, Any]:
        return entry_json(closes.adjust(
            client, db, affiliate_id=affiliate_id, amount=amount, currency=currency,
            reason=reason, period=period, actor=actor, zone=settings.commission_zone))

    entry: dict[str, Any] = _call(settings, "POST", "/adjust", direct, body={
        "affiliate_id": affiliate_id, "amount": str(amount), "currency": currency,
        "reason": reason, "period": period, "actor": actor.key_id,
        "requested_by": actor.requested_by,
    })
    return entry


def pay_statement(
    settings: Settings, *, period: str, affiliate_id: str, reference: str, actor: closes.Actor,
) -> list[dict[str, Any]]:
    """The affiliate's rows of `period` after recording the payment."""
    def direct(client: Any, db: str) -> list[dict[str, Any]]:
        return [r.as_json() for r in closes.pay(
            client, db, period=period, affiliate_id=affiliate_id, reference=reference,
            actor=actor, holds=closes.held_affiliates(client, db))]

    rows: list[dict[str, Any]] = _call(settings, "POST", "/pay", direct, body={
        "period": period, "affiliate_id": affiliate_id, "reference": reference,
        "actor": actor.key_id, "requested_by": actor.requested_by,
    })
    return rows


def commission_actions(settings: Settings, *, limit: int = 1000) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = _call(
        settings, "GET", "/actions",
        lambda client, db: statement_reads.actions(client, db, limit=limit), params={"limit": limit})
    return rows


def affiliate_statements(
    settings: Settings, *, affiliate_id: str, period: str | None, as_of: datetime | None,
) -> list[dict[str, Any]]:
    """One affiliate's statement rows (of `period`, or of every period, newest first)."""
    def direct(client: Any, db: str) -> list[dict[str, Any]]:
        return [r.as_json() for r in statement_reads.affiliate_statements(
            client, db, affiliate_id=affiliate_id, period=period, as_of=as_of,
            zone=settings.commission_zone, holds=closes.held_affiliates(client, db))]

    rows: list[dict[str, Any]] = _call(
        settings, "GET", "/statements", direct,
        params={"affiliate_id": affiliate_id, "period": period,
                "as_of": None if as_of is None else as_of.isoformat()})
    return rows


def invoice_source(settings: Settings, *, affiliate_id: str, number: str) -> dict[str, Any] | None:
    """{row, entries} of the affiliate's invoice `number` (JSON values), None when it has none
    by that number (another affiliate's reads the same as a made-up one)."""
    def direct(client: Any, db: str) -> dict[str, Any] | None:
        found = statement_reads.invoice_source(client, db, affiliate_id=affiliate_id, invoice=number)
        if found is None:
            return None
        row, entries = found
        return {"row": row.as_json(), "entries": [entry_json(e) for e in entries]}

    try:
        result: dict[str, Any] | None = _call(
            settings, "GET", "/invoice", direct,
            params={"affiliate_id": affiliate_id, "number": number})
    except CloseRefused as e:
        if e.status == 404:
            return None
        raise
    return result
