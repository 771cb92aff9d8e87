"""The funnel report: KPIs per affiliate and campaign, from ClickHouse funnel rows.

`summarize` turns per-currency funnel rows into one row per affiliate and campaign: every
count of clickpath.domain.measures summed over currencies, every amount of money (and the
derived GGR and NGR) as a `{currency: amount}` map. Amounts stay Decimal per currency (no FX
conversion) and are rendered as strings. A map holds every currency the affiliate and
campaign had money figures in (a zero where this one is zero); `average_deposit` only those
with deposits. CSV and JSON carry every figure; the table the main ones (TABLE_FIGURES).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from clickpath.contracts.money import format_amount
from clickpath.domain.fx import FxTable
from clickpath.domain.measures import DERIVED, FUNNEL_MEASURES, derive, parse

UNATTRIBUTED = "(unattributed)"
COUNTS = tuple(m for m in FUNNEL_MEASURES if not m.money)
MONEY = tuple(m for m in FUNNEL_MEASURES if m.money)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _group(
    funnel_rows: Iterable[dict[str, Any]], fx: FxTable | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (affiliate, campaign): each count's total, each currency's money measures and, with
    `fx` (rows split by day), the money in the reporting currency."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for row in funnel_rows:
        g = grouped.setdefault(
            (row["affiliate_id"], row["campaign_id"]),
            {"counts": {m.name: 0 for m in COUNTS}, "deposits": {}, "money": {},
             "reporting": {m.name: Decimal(0) for m in MONEY}, "fx_missing": set()},
        )
        # A measure the row lacks (a sink of an older version answering) counts as zero.
        values = {m.name: parse(m, row.get(m.name, 0)) for m in FUNNEL_MEASURES}
        for m in COUNTS:
            g["counts"][m.name] += values[m.name]
        currency = row["currency"]
        if not currency or not any(values[m.name] for m in FUNNEL_MEASURES if m.name != "clicks"):
            continue
        if values["deposits"]:
            g["deposits"][currency] = g["deposits"].get(currency, 0) + values["deposits"]
        money = g["money"].setdefault(currency, {m.name: Decimal(0) for m in MONEY})
        for m in MONEY:
            money[m.name] += values[m.name]
        if fx is not None:
            _convert(g, fx, currency, row["day"], values)
    return grouped


def _convert(
    g: dict[str, Any], fx: FxTable, currency: str, day: date | str, values: dict[str, Any]
) -> None:
    """Add one day's money to the reporting-currency totals at that day's rate."""
    when = day if isinstance(day, date) else date.fromisoformat(str(day))
    rate = fx.rate(currency, when)
    if rate is None:
        g["fx_missing"].add(currency)
        return
    for m in MONEY:
        g["reporting"][m.name] += values[m.name] * rate


def _amount(name: str, values: dict[str, Decimal]) -> Decimal:
    """A money measure, or a DERIVED amount (GGR, NGR), from one currency's measures."""
    return derive(name, values) if name in DERIVED else values[name]


def summarize(
    funnel_rows: Iterable[dict[str, Any]], fx: FxTable | None = None
) -> list[dict[str, Any]]:
    """One row per affiliate and campaign. With `fx` (and rows split by day), every amount
    is also given in the reporting currency as `<name>_reporting`, converted day by day; when
    a currency had no rate in effect on one of its days, those are null and `fx_missing` names
    the currencies."""
    report = []
    for (affiliate, campaign), g in sorted(_group(funnel_rows, fx).items()):
        counts, money = g["counts"], dict(sorted(g["money"].items()))

        def by_currency(name: str) -> dict[str, str]:
            return {c: format_amount(_amount(name, values)) for c, values in money.items()}  # noqa: B023

        row: dict[str, Any] = {
            "affiliate_id": affiliate or UNATTRIBUTED,
            "campaign_id": campaign,
            "clicks": counts["clicks"],
            "registrations": counts["registrations"],
            "click_to_registration": _rate(counts["registrations"], counts["clicks"]),
            "ftds": counts["ftds"],
            "registration_to_deposit": _rate(counts["ftds"], counts["registrations"]),
            "deposits": counts["deposits"],
            "deposit_sum": by_currency("deposit_sum"),
            "average_deposit": {
                c: format_amount((money[c]["deposit_sum"] / n).quantize(Decimal("0.01")))
                for c, n in sorted(g["deposits"].items())
            },
        }
        for m in FUNNEL_MEASURES:
            row.setdefault(m.name, by_currency(m.name) if m.money else counts[m.name])
        for name in DERIVED:
            row[name] = by_currency(name)
        if fx is not None:
            _add_reporting(row, g, fx)
        report.append(row)
    return report


def _money(by_currency: dict[str, str]) -> str:
    return ", ".join(f"{amount} {cur}" for cur, amount in by_currency.items()) or "-"


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _label(name: str) -> str:
    special = {"ftds": "FTDs", "ftd_sum": "FTD sum", "ggr": "GGR", "ngr": "NGR"}
    return special.get(name, name.replace("_", " "))


def _figure(name: str, money: bool) -> tuple[str, Callable[[dict[str, Any]], str]]:
    if money:
        return _label(name), lambda r: _money(r.get(name, {}))
    return _label(name), lambda r: str(r.get(name, 0))


COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
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
    *(
        _figure(m.name, m.money) for m in FUNNEL_MEASURES
        if m.name not in ("clicks", "registrations", "ftds", "deposits", "deposit_sum")
    ),
    *(_figure(name, True) for name in DERIVED),
)
"""Every figure, as CSV has them: a header and how a report row renders it."""

TABLE_FIGURES = (
    "affiliate", "campaign", "clicks", "registrations", "click→reg", "FTDs", "reg→FTD", "deposits",
    "deposit sum", "avg deposit", "chargebacks", "NGR",
)
"""The table's columns: the funnel, chargebacks and NGR (the table stays readable in a terminal;
CSV and JSON carry the rest)."""


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
    shown = [(name, cell) for name, cell in COLUMNS if name in TABLE_FIGURES]
    table = Table(title="clickpath funnel by affiliate and campaign")
    for name, _ in shown:
        table.add_column(name, justify="left" if name in ("affiliate", "campaign") else "right")
    for row in report:
        table.add_row(*(cell(row) for _, cell in shown))
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    console.print(table)
    if not report:
        console.print("No funnel data yet.")
    return out.getvalue()


def _add_reporting(row: dict[str, Any], g: dict[str, Any], fx: FxTable) -> None:
    complete = not g["fx_missing"]
    row["reporting_currency"] = fx.reporting
    for name in (*(m.name for m in MONEY), *DERIVED):
        amount = _amount(name, g["reporting"]).quantize(Decimal("0.01"))
        row[f"{name}_reporting"] = format_amount(amount) if complete else None
    if not complete:
        row["fx_missing"] = sorted(g["fx_missing"])

