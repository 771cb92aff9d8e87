"""The funnel report: KPIs per affiliate and campaign, from ClickHouse funnel rows.

`summarize` turns per-currency funnel rows into one row per affiliate and campaign; amounts stay
Decimal per currency (no FX conversion) and are rendered as strings in JSON and CSV.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from clickpath.contracts.money import format_amount

UNATTRIBUTED = "(unattributed)"


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def summarize(funnel_rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for row in funnel_rows:
        key = (row["affiliate_id"], row["campaign_id"])
        g = grouped.setdefault(
            key,
            {"clicks": 0, "registrations": 0, "ftds": 0, "deposits": {}, "sums": {}},
        )
        g["clicks"] += int(row["clicks"])
        g["registrations"] += int(row["registrations"])
        g["ftds"] += int(row["ftds"])
        if row["currency"] and int(row["deposits"]):
            cur = row["currency"]
            g["deposits"][cur] = g["deposits"].get(cur, 0) + int(row["deposits"])
            g["sums"][cur] = g["sums"].get(cur, Decimal(0)) + Decimal(str(row["deposit_sum"]))
    report = []
    for (affiliate, campaign), g in sorted(grouped.items()):
        deposits = sum(g["deposits"].values())
        report.append(
            {
                "affiliate_id": affiliate or UNATTRIBUTED,
                "campaign_id": campaign,
                "clicks": g["clicks"],
                "registrations": g["registrations"],
                "click_to_registration": _rate(g["registrations"], g["clicks"]),
                "ftds": g["ftds"],
                "registration_to_deposit": _rate(g["ftds"], g["registrations"]),
                "deposits": deposits,
                "deposit_sum": {c: format_amount(s) for c, s in sorted(g["sums"].items())},
                "average_deposit": {
                    c: format_amount((s / g["deposits"][c]).quantize(Decimal("0.01")))
                    for c, s in sorted(g["sums"].items())
                },
            }
        )
    return report


def _money(by_currency: dict[str, str]) -> str:
    return ", ".join(f"{amount} {cur}" for cur, amount in by_currency.items()) or "-"


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


COLUMNS = (
    ("affiliate", lambda r: r["affiliate_id"]),
    ("campaign", lambda r: r["campaign_id"]),
    ("clicks", lambda r: str(r["clicks"])),
    ("registrations", lambda r: str(r["registrations"])),
    ("click→reg", lambda r: _pct(r["click_to_registration"])),
    ("FTDs", lambda r: str(r["ftds"])),
    ("reg→FTD", lambda r: _pct(r["registration_to_deposit"])),
    ("deposits", lambda r: str(r["deposits"])),
    ("deposit sum", lambda r: _money(r["deposit_sum"])),
    ("avg deposit", lambda r: _money(r["average_deposit"])),
)


def render(report: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([name for name, _ in COLUMNS])
        for row in report:
            writer.writerow([cell(row) for _, cell in COLUMNS])
        return out.getvalue()
    table = Table(title="clickpath funnel by affiliate and campaign")
    for name, _ in COLUMNS:
        table.add_column(name, justify="left" if name in ("affiliate", "campaign") else "right")
    for row in report:
        table.add_row(*(cell(row) for _, cell in COLUMNS))
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False)
    console.print(table)
    if not report:
        console.print("No funnel data yet.")
    return out.getvalue()
