"""Statements and the ledger listing, derived from ledger entries: pure functions, no I/O.

A statement row is one affiliate's period in one payout currency, as of a time: the entries
recorded up to then, each entry id once (a re-sent entry counts from its first recording).
Every entry falls in exactly one column, so `total` is the exact sum of the entries:
a clawback in `clawback_amount`, a carry-over in `carry_over`, a roll-over (a closed total
under the minimum payout, domain/commissions/close.py) in `roll_over`, an operator's
adjustment in `manual_amount`, any other entry in its component's column (`cpa_amount`,
`revshare_amount`, `sub_affiliate_amount`). `cpa_count` is
the CPA accruals with a non-zero amount minus the CPA clawbacks. The ClickHouse query
(clickpath/infra/ledger.py) computes the same sums in SQL; `statement_row` shapes either.

Amounts leave here as decimal strings ("125.00"), never floats or per-currency maps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from clickpath.contracts.models import LedgerEntry
from clickpath.contracts.money import format_amount
from clickpath.domain.analytics_rows import csv_text
from clickpath.domain.plans import parse_period as plan_period

STATUS_OPEN = "open"  # the other statuses are the close's (domain/commissions/close.py)
AMOUNT_COLUMNS = (
    "cpa_amount", "revshare_amount", "sub_affiliate_amount", "clawback_amount", "carry_over",
    "manual_amount", "roll_over", "total",
)
CLOSE_COLUMNS = ("invoice_number", "closed_at", "closed_by", "paid_at", "paid_by", "payment_reference")
STATEMENT_COLUMNS = (
    "affiliate_id", "period", "currency", "cpa_count", *AMOUNT_COLUMNS, "status", "as_of", "entries",
    *CLOSE_COLUMNS,
)
LEDGER_COLUMNS = (
    "recorded_at", "period", "entry_id", "kind", "component", "amount", "currency", "original_amount",
    "original_currency", "fx_rate", "plan_id", "plan_version", "player_token", "reason",
    "occurred_at", "registered_at", "caused_by",
)


class StatementRow(BaseModel):
    affiliate_id: str
    period: str
    currency: str
    cpa_count: int
    cpa_amount: Decimal
    revshare_amount: Decimal
    sub_affiliate_amount: Decimal
    clawback_amount: Decimal
    carry_over: Decimal
    total: Decimal
    manual_amount: Decimal = Decimal(0)
    roll_over: Decimal = Decimal(0)
    status: str
    as_of: datetime
    entries: int
    # A closed period's row: its invoice (a positive total), the close and the payment.
    invoice_number: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    paid_at: datetime | None = None
    paid_by: str | None = None
    payment_reference: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The row as JSON values: amounts as decimal strings, times ISO 8601 UTC."""
        row = self.model_dump()
        for name in AMOUNT_COLUMNS:
            row[name] = format_amount(row[name])
        for name in ("as_of", "closed_at", "paid_at"):
            if row[name] is not None:
                row[name] = iso(row[name])
        return row


def parse_period(text: str) -> str:
    """A period `YYYY-MM` (a calendar month, domain/plans' rule); ValueError saying what is
    expected, in the words of a command's argument."""
    value = text.strip()
    try:
        plan_period(value)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a period: use YYYY-MM, e.g. 2026-11") from None
    return value


def parse_as_of(text: str) -> datetime:
    """An ISO 8601 time (no zone: UTC), or a day `YYYY-MM-DD` meaning its very end (UTC);
    ValueError saying what is expected."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max, UTC).replace(microsecond=999000)
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text[:40]!r} is not a time: use ISO 8601, e.g. 2026-11-30T23:59:59Z or 2026-11-30"
        ) from None
    return _utc(at).astimezone(UTC)


def iso(at: datetime) -> str:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def column_of(kind: str, component: str) -> str:
    """The statement column an entry's amount goes to (one, so the columns add up to total)."""
    if kind == "clawback":
        return "clawback_amount"
    if kind in ("carry_over", "roll_over"):
        return kind
    return f"{component}_amount"


def ledger(
    entries: Iterable[LedgerEntry], affiliate_id: str | None, period: str, as_of: datetime
) -> list[LedgerEntry]:
    """The period's entries (of `affiliate_id`; None: every affiliate) recorded up to `as_of`,
    each entry id once (its earliest copy), in the order they were recorded."""
    first: dict[tuple[str, str], LedgerEntry] = {}
    limit = _utc(as_of)
    for e in entries:
        if e.period != period or (affiliate_id is not None and e.affiliate_id != affiliate_id):
            continue
        if _utc(e.recorded_at) > limit:
            continue
        key = (e.affiliate_id, e.entry_id)
        held = first.get(key)
        if held is None or _utc(e.recorded_at) < _utc(held.recorded_at):
            first[key] = e
    return sorted(first.values(), key=lambda e: (_utc(e.recorded_at), e.affiliate_id, e.entry_id))


def statement_row(
    affiliate_id: str, period: str, currency: str, sums: Mapping[str, Any], as_of: datetime,
    status: str = STATUS_OPEN,
) -> StatementRow:
    """A row from its sums: `cpa_count`, `entries` and each amount column but `total`."""
    amounts = {name: Decimal(sums.get(name) or 0) for name in AMOUNT_COLUMNS if name != "total"}
    return StatementRow(
        affiliate_id=affiliate_id, period=period, currency=currency,
        cpa_count=int(sums.get("cpa_count") or 0), **amounts, total=sum(amounts.values(), Decimal(0)),
        status=status, as_of=_utc(as_of), entries=int(sums.get("entries") or 0),
    )


def statements(entries: Iterable[LedgerEntry], period: str, as_of: datetime) -> list[StatementRow]:
    """One row per (affiliate, currency) of the period's entries recorded up to `as_of`,
    sorted by affiliate and currency."""
    sums: dict[tuple[str, str], dict[str, Any]] = {}
    for e in ledger(entries, None, period, as_of):
        row = sums.setdefault((e.affiliate_id, e.currency), {"cpa_count": 0, "entries": 0})
        row["entries"] += 1
        column = column_of(e.kind, e.component)
        row[column] = row.get(column, Decimal(0)) + e.amount
        if e.component == "cpa" and e.kind == "accrual" and e.amount != 0:
            row["cpa_count"] += 1
        elif e.component == "cpa" and e.kind == "clawback":
            row["cpa_count"] -= 1
    return [statement_row(a, period, c, s, as_of) for (a, c), s in sorted(sums.items())]


def entry_json(e: LedgerEntry) -> dict[str, Any]:
    """An entry as JSON values: amounts as decimal strings, times ISO 8601 UTC."""
    row: dict[str, Any] = e.model_dump()
    for name in ("amount", "original_amount"):
        row[name] = format_amount(row[name])
    row["fx_rate"] = f"{e.fx_rate.normalize():f}"
    for name in ("occurred_at", "recorded_at", "registered_at"):
        if row[name] is not None:
            row[name] = iso(row[name])
    return row


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    if not rows:
        return f"{title}\n{empty}\n"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines) + "\n"


def render_statements(rows: Sequence[Mapping[str, Any]], fmt: str) -> str:
    """`rows` as StatementRow.as_json gives them, in JSON, CSV or a plain table."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2) + "\n"
    cells = [[str(r[c]) for c in STATEMENT_COLUMNS] for r in rows]
    if fmt == "csv":
        return csv_text(STATEMENT_COLUMNS, cells)
    period = rows[0]["period"] if rows else ""
    return _table(f"clickpath statements {period}".rstrip(), STATEMENT_COLUMNS, cells,
                  "No ledger entries for this period (as of then).")


def render_ledger(entries: Sequence[Mapping[str, Any]], fmt: str) -> str:
    """`entries` as entry_json gives them, in JSON (a list), CSV or a plain table (caused_by
    joined by spaces)."""
    if fmt == "json":
        return json.dumps(list(entries), indent=2) + "\n"

    def cell(value: Any) -> str:
        if value is None:
            return ""
        return " ".join(value) if isinstance(value, list) else str(value)

    cells = [[cell(e.get(c)) for c in LEDGER_COLUMNS] for e in entries]
    if fmt == "csv":
        return csv_text(LEDGER_COLUMNS, cells)
    short = ("recorded_at", "entry_id", "kind", "component", "amount", "currency", "plan_id",
             "plan_version", "player_token", "reason", "caused_by")
    picked = [[row[LEDGER_COLUMNS.index(c)] for c in short] for row in cells]
    return _table("clickpath ledger", short, picked, "No ledger entries.")
