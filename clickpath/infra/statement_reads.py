"""Reading what the closes made (infra/closes.py): one affiliate's statements across periods,
the entries an invoice is made of, and the operator actions, newest first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from clickhouse_connect.driver.client import Client

from clickpath.contracts.models import LedgerEntry
from clickpath.domain.commissions.statements import StatementRow
from clickpath.domain.plans.periods import period_of
from clickpath.infra.closes import (
    LEDGER_FIELDS,
    Close,
    as_utc,
    ch_now,
    closed_rows,
    open_sums,
    pays_clause,
    read_closes,
)


def actions(client: Client, db: str, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The latest operator actions, newest first (who, what, when)."""
    result = client.query(
        f"SELECT action_id, kind, period, affiliate_id, currency, amount, reference, reason, "
        f"actor, requested_by, at, detail FROM {db}.commission_actions ORDER BY at DESC, "
        f"action_id LIMIT {{limit:UInt32}}", parameters={"limit": limit},
    )
    out = []
    for raw in result.result_rows:
        row = dict(zip(result.column_names, raw, strict=True))
        row["amount"] = None if row["amount"] is None else f"{row['amount']:f}"
        row["at"] = as_utc(row["at"]).isoformat().replace("+00:00", "Z")
        row["detail"] = orjson.loads(row["detail"] or "{}")
        out.append(row)
    return out


def affiliate_statements(
    client: Client, db: str, *, affiliate_id: str, period: str | None, as_of: datetime | None,
    zone: ZoneInfo, holds: frozenset[str] = frozenset(),
) -> list[StatementRow]:
    """One affiliate's rows: of `period`, or (None) of every period it has entries in and the
    current one, newest first; closed ones as frozen, open ones as of `as_of` (default now)."""
    at = as_of or ch_now(client)
    if period is not None:
        wanted = [period]
    else:
        seen = client.query(
            f"SELECT DISTINCT period FROM {db}.ledger_entries WHERE affiliate_id = {{a:String}}",
            parameters={"a": affiliate_id},
        ).result_rows
        wanted = sorted({p for (p,) in seen} | {period_of(at, zone)}, reverse=True)
    closes = read_closes(client, db)
    rows: list[StatementRow] = []
    for p in wanted:
        if p in closes:
            found = closed_rows(client, db, closes[p], holds)
        else:
            found = open_sums(client, db, p, closes, at, affiliate_id)
        rows += [r for r in found if r.affiliate_id == affiliate_id]
    return rows


def invoice_source(
    client: Client, db: str, *, affiliate_id: str, invoice: str,
) -> tuple[StatementRow, list[LedgerEntry]] | None:
    """The closed row an invoice number belongs to, with the entries it is made of, if it is
    the affiliate's (None otherwise: another affiliate's number reads as unknown)."""
    closes = read_closes(client, db)
    by_id = {c.close_id: c for c in closes.values()}
    found = client.query(
        f"SELECT close_id FROM {db}.statement_closes WHERE invoice_number = {{n:String}} "
        f"AND affiliate_id = {{a:String}} AND has({{done:Array(String)}}, close_id) LIMIT 1",
        parameters={"n": invoice, "a": affiliate_id, "done": sorted(by_id)},
    ).result_rows
    if not found:
        return None
    close = by_id[found[0][0]]
    for row in closed_rows(client, db, close, frozenset()):
        if row.invoice_number == invoice and row.affiliate_id == affiliate_id:
            return row, paid_entries(client, db, affiliate_id, close.period, closes)
    return None


def paid_entries(
    client: Client, db: str, affiliate_id: str, period: str, closes: Mapping[str, Close],
) -> list[LedgerEntry]:
    """The affiliate's entries `period` pays (as frozen, when it is closed)."""
    pays, params = pays_clause(db, period, closes)
    result = client.query(
        f"SELECT {', '.join(LEDGER_FIELDS)} FROM {db}.ledger_entries "
        f"WHERE affiliate_id = {{affiliate:String}} AND {pays} ORDER BY recorded_at, entry_id",
        parameters={**params, "affiliate": affiliate_id},
    )
    out = []
    for raw in result.result_rows:
        values = dict(zip(LEDGER_FIELDS, raw, strict=True))
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = as_utc(value)
        out.append(LedgerEntry(**values))
    return out
