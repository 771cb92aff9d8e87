"""The funnel as rows people read and scripts load: one row per brand, affiliate, campaign and
currency, every cell a number (the table and CSV of `clickpath report`).

Made from clickpath.domain.report's JSON rows (the service's answer), so the CLI renders the
same figures whether it asked the service or ClickHouse. Money never mixes currencies: an
amount is a decimal number in its row's currency. Clicks and registrations belong to no
currency, so they are on the first currency row of their group only (blank on the others:
adding a column up never counts them twice); a row's `registration_to_deposit` is its FTDs
over the group's registrations, so a group's rates add up over its currency rows. The table
ends with totals, one row per currency; CSV has none (a script adds up the column itself).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from clickpath.contracts.money import format_amount
from clickpath.domain.measures import DERIVED, FUNNEL_MEASURES

COUNT_NAMES = tuple(m.name for m in FUNNEL_MEASURES if not m.money)
CURRENCY_COUNTS = tuple(name for name in COUNT_NAMES if name not in ("clicks", "registrations"))
"""The counts that belong to a currency (an FTD, a deposit, a chargeback is in one)."""
MONEY_NAMES = (*(m.name for m in FUNNEL_MEASURES if m.money), *DERIVED)
TOTAL = "(total)"

_HEAD = ("clicks", "registrations", "click_to_registration", "ftds", "registration_to_deposit",
         "deposits", "deposit_sum", "average_deposit")
CSV_COLUMNS = (
    "brand_id", "affiliate_id", "campaign_id", "currency", *_HEAD,
    *(m.name for m in FUNNEL_MEASURES if m.name not in _HEAD), *DERIVED,
)
"""The CSV header: JSON's field names; rates are fractions (0.18), money decimal numbers."""

_TABLE: tuple[tuple[str, str], ...] = (
    ("brand", "brand_id"), ("affiliate", "affiliate_id"), ("campaign", "campaign_id"),
    ("currency", "currency"), ("clicks", "clicks"), ("registrations", "registrations"),
    ("click→reg", "click_to_registration"), ("FTDs", "ftds"), ("reg→FTD", "registration_to_deposit"),
    ("deposits", "deposits"), ("deposit sum", "deposit_sum"), ("avg deposit", "average_deposit"),
    ("chargebacks", "chargebacks"), ("NGR", "ngr"),
)
"""The table's columns (header, field): the funnel, chargebacks and NGR, to stay readable in a
terminal; CSV and JSON carry every figure."""
_TEXT_FIELDS = ("brand_id", "affiliate_id", "campaign_id", "currency")


def _rate(numerator: int, denominator: int | None) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _currencies(row: dict[str, Any], only: str | None) -> list[str]:
    if only is not None:
        return [only]
    seen = set(row.get("by_currency") or {}) | {c for n in MONEY_NAMES for c in row.get(n) or {}}
    return sorted(seen) or [""]


def currency_rows(report: Iterable[dict[str, Any]], currency: str | None = None) -> list[dict[str, Any]]:
    """One flat row per currency of each report row (only `currency`'s, zeros where it has
    none, when given); clicks, registrations and click_to_registration on the first only."""
    rows = []
    for group in report:
        for i, cur in enumerate(_currencies(group, currency)):
            counts = (group.get("by_currency") or {}).get(cur, {})
            row: dict[str, Any] = {k: group.get(k, "") for k in _TEXT_FIELDS[:3]}
            row["currency"] = cur
            first = i == 0
            row["clicks"] = group["clicks"] if first else None
            row["registrations"] = group["registrations"] if first else None
            row["click_to_registration"] = group["click_to_registration"] if first else None
            for name in CURRENCY_COUNTS:
                row[name] = int(counts.get(name, 0))
            row["registration_to_deposit"] = _rate(row["ftds"], group["registrations"])
            for name in MONEY_NAMES:
                row[name] = (group.get(name) or {}).get(cur, "0.00" if cur else None)
            row["average_deposit"] = (group.get("average_deposit") or {}).get(cur)
            rows.append(row)
    return rows


def total_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The totals of currency rows, one per currency (clicks and registrations on the first)."""
    clicks = registrations = clicked = 0  # clicked: registrations of the groups with clicks
    counts: dict[str, dict[str, int]] = {}
    money: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        clicks += row["clicks"] or 0
        registrations += row["registrations"] or 0
        clicked += (row["registrations"] or 0) if row["clicks"] else 0
        held = counts.setdefault(row["currency"], dict.fromkeys(CURRENCY_COUNTS, 0))
        for name in CURRENCY_COUNTS:
            held[name] += row[name]
        amounts = money.setdefault(row["currency"], {n: Decimal(0) for n in MONEY_NAMES})
        for name in MONEY_NAMES:
            amounts[name] += Decimal(row[name] or 0)
    totals = []
    for i, cur in enumerate(sorted(counts)):
        total: dict[str, Any] = {"brand_id": TOTAL, "affiliate_id": "", "campaign_id": "",
                                 "currency": cur}
        first = i == 0
        total["clicks"] = clicks if first else None
        total["registrations"] = registrations if first else None
        # Over the groups with clicks: unattributed registrations came by no click.
        total["click_to_registration"] = _rate(clicked, clicks) if first else None
        total.update(counts[cur])
        total["registration_to_deposit"] = _rate(counts[cur]["ftds"], registrations)
        for name in MONEY_NAMES:
            total[name] = format_amount(money[cur][name]) if cur else None
        deposits = counts[cur]["deposits"]
        total["average_deposit"] = (
            format_amount((money[cur]["deposit_sum"] / deposits).quantize(Decimal("0.01")))
            if deposits and cur else None
        )
        totals.append(total)
    return totals


def _table_cell(field: str, value: Any, row: dict[str, Any]) -> str:
    rate = field in ("click_to_registration", "registration_to_deposit")
    if value is None:
        # "-": a rate with nothing to divide by; blank: a figure that is on the group's first row.
        shown = field == "registration_to_deposit" or row["clicks"] is not None
        return "-" if rate and shown else ""
    if rate:
        return f"{value * 100:.1f}%"
    if field == "currency":
        return value or "-"
    return str(value)


def render_rows(report: list[dict[str, Any]], fmt: str, currency: str | None = None) -> str:
    """CSV (CSV_COLUMNS, no totals) or the table (the main figures, then the totals)."""
    rows = currency_rows(report, currency)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        writer.writerows([("" if r[k] is None else r[k]) for k in CSV_COLUMNS] for r in rows)
        return out.getvalue()
    table = Table(title="clickpath funnel by brand, affiliate and campaign, one row per currency")
    for header, field in _TABLE:
        table.add_column(header, justify="left" if field in _TEXT_FIELDS[:3] else "right")
    for row in rows:
        table.add_row(*(_table_cell(field, row[field], row) for _, field in _TABLE))
    if rows:
        table.add_section()
        for row in total_rows(rows):
            table.add_row(*(_table_cell(field, row[field], row) for _, field in _TABLE))
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    console.print(table)
    if not report:
        console.print("No funnel data yet.")
    else:
        console.print(
            "Clicks and registrations belong to no currency: each group has them on its first"
            " row. reg→FTD is the row's FTDs over the group's registrations."
        )
    return out.getvalue()
