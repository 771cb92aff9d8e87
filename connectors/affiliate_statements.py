"""The affiliate's own commission routes: its ledger, its statements (open and closed, with
status, invoice and payment) and its invoices (docs/commissions.md#the-affiliate-api).

The affiliate comes from the key: an affiliate key reads its own affiliate and nobody else's
(another `affiliate_id` is a 403, another affiliate's invoice number a 404 like a made-up one);
an admin key names the affiliate with `?affiliate_id=`. Brand-scoped keys (operator, analyst)
cannot read them: the ledger is per affiliate across brands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool

from clickpath.connectors.analyst_routes import ask
from clickpath.connectors.auth import report_scope, require_role
from clickpath.connectors.catalogue import CatalogueStore
from clickpath.connectors.context import IngressContext
from clickpath.connectors.keys import ApiKey
from clickpath.domain.catalogue import CATALOGUE_ID_PATTERN, AffiliateConfig
from clickpath.domain.commissions.invoice_pdf import invoice_pdf
from clickpath.domain.commissions.invoice_render import invoice_csv, invoice_html
from clickpath.domain.commissions.invoices import InvoiceError, build_invoice
from clickpath.domain.commissions.statements import parse_as_of, parse_period
from clickpath.infra import commission_ops
from clickpath.infra.report_slots import ReportSlots
from clickpath.infra.reports import ledger_entries
from clickpath.settings import Settings

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No, unknown or revoked API key."},
    403: {"description": "Not an affiliate or admin key, or another affiliate's data."},
    422: {"description": "A bad parameter, named."},
    429: {"description": "The key (or the service) already runs its reads; Retry-After says when."},
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
    slots = ReportSlots()  # reads run in a slot of the key and the service, as the reports do
    catalogue = CatalogueStore(settings.catalogue_path, settings.affiliates)
    router = APIRouter(prefix="/v1/affiliate", tags=["affiliate"])

    @router.get("/ledger", responses=RESPONSES)
    async def ledger(
        period: str = Query(description="YYYY-MM"), as_of: str | None = Query(None),
        affiliate_id: str | None = AffiliateQuery, key: ApiKey = Depends(reader),
    ) -> list[dict[str, Any]]:
        """The affiliate's ledger entries that the period pays (its own, and late entries of
        closed periods before it), each once, in the order recorded: amount, kind, component,
        reason, plan, the player's token, the events that caused it (an entry about a player
        who withdrew affiliate_data_sharing consent: its amount only)."""
        who = own_affiliate(key, affiliate_id)
        month = _field("period", parse_period, period)
        at = datetime.now(UTC) if as_of is None else _field("as_of", parse_as_of, as_of)
        rows: list[dict[str, Any]] = await ask(
            slots, key, report_scope(key, None), ledger_entries, settings, affiliate_id=who,
            period=month, as_of=at, for_affiliate=key.role == "affiliate")
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
        rows: list[dict[str, Any]] = await ask(
            slots, key, report_scope(key, None), commission_ops.affiliate_statements, settings,
            affiliate_id=who, period=month, as_of=None)
        if key.role == "affiliate":  # the operator's key ids are not the affiliate's business
            rows = [{**r, "closed_by": None, "paid_by": None} for r in rows]
        return rows

    @router.get("/invoices/{number}", responses={
        **RESPONSES, 404: {"description": "No invoice by that number for this affiliate."},
        409: {"description": "The invoice cannot be made: a detail is missing (named)."},
        200: {"content": {"text/html": {}, "text/csv": {}, "application/pdf": {}}}})
    async def invoice(
        number: str = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"),
        format: Literal["html", "csv", "pdf"] = "html",
        affiliate_id: str | None = AffiliateQuery, key: ApiKey = Depends(reader),
    ) -> Response:
        """The invoice of a closed statement (docs/invoices.md): a printable page, CSV or PDF,
        in the statement's currency, with VAT or the reverse-charge note."""
        who = own_affiliate(key, affiliate_id)
        found = await ask(slots, key, report_scope(key, None), commission_ops.invoice_source,
                          settings, affiliate_id=who, number=number)
        if found is None:
            raise HTTPException(404, f"no invoice {number!r} of affiliate {who!r}")
        affiliate = catalogue.current().affiliates.get(who, AffiliateConfig())
        try:
            made = await run_in_threadpool(invoice_document, found, affiliate, settings, format)
        except InvoiceError as e:
            raise HTTPException(409, str(e)) from None
        body, media = made
        name = f"{number}.{format}"
        return Response(body, media_type=media,
                        headers={"Content-Disposition": f'inline; filename="{name}"'})

    return router


def invoice_document(
    found: dict[str, Any], affiliate: AffiliateConfig, settings: Settings, fmt: str,
) -> tuple[bytes, str]:
    """The invoice of `found` ({row, entries}) as bytes of `fmt`, and its media type. Issued at
    the close, so the same invoice reads the same every time. Late entries of earlier periods
    are paid in this one: their FX rates are listed with its own."""
    row = found["row"]
    entries = [{**e, "period": row["period"]} for e in found["entries"]]
    issued = datetime.fromisoformat(str(row["closed_at"]).replace("Z", "+00:00"))
    inv = build_invoice(row, entries, affiliate, settings.invoice_terms(), issued)
    if fmt == "csv":
        return invoice_csv(inv).encode(), "text/csv; charset=utf-8"
    if fmt == "pdf":
        return invoice_pdf(inv, settings.invoice_pdf_font), "application/pdf"
    return invoice_html(inv).encode(), "text/html; charset=utf-8"
