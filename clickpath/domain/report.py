"""The funnel report: KPIs per brand, affiliate and campaign, from ClickHouse funnel rows.

`summarize` turns per-currency funnel rows into one row per brand, affiliate and campaign (the
JSON answer of `clickpath report` and `/v1/reports/funnel`): every count of
clickpath.domain.measures summed over currencies, every amount of money (and the derived GGR
and NGR) as a `{currency: amount}` map, and `by_currency` with the counts that belong to a
currency (FTDs, deposits, ...). Amounts stay Decimal per currency (no FX conversion) and are
rendered as strings. A map holds every currency the group had money figures in (a zero where
this one is zero); `average_deposit` only those with deposits. The table and CSV, one row per
currency, are clickpath.domain.funnel_table's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from clickpath.contracts.money import format_amount
from clickpath.domain.funnel_table import CURRENCY_COUNTS, render_rows
from clickpath.domain.fx import FxTable
from clickpath.domain.measures import DERIVED, FUNNEL_MEASURES, derive, parse

UNATTRIBUTED = "(unattributed)"
COUNTS = tuple(m for m in FUNNEL_MEASURES if not m.money)
MONEY = tuple(m for m in FUNNEL_MEASURES if m.money)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _group(
    funnel_rows: Iterable[dict[str, Any]], fx: FxTable | None = None
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Per (brand, affiliate, campaign): each count's total and per currency, each currency's
    money measures and, with `fx` (rows split by day), the money in the reporting currency."""
    grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in funnel_rows:
        # A row without brand_id comes from a sink of an older version: one brand, unnamed.
        g = grouped.setdefault(
            (row.get("brand_id", ""), row["affiliate_id"], row["campaign_id"]),
            {"counts": {m.name: 0 for m in COUNTS}, "deposits": {}, "money": {},
             "by_currency": {}, "reporting": {m.name: Decimal(0) for m in MONEY},
             "fx_missing": set()},
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
        counts = g["by_currency"].setdefault(currency, dict.fromkeys(CURRENCY_COUNTS, 0))
        for name in CURRENCY_COUNTS:
            counts[name] += values[name]
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
    """One row per brand, affiliate and campaign. With `fx` (and rows split by day), every amount
    is also given in the reporting currency as `<name>_reporting`, converted day by day; when
    a currency had no rate in effect on one of its days, those are null and `fx_missing` names
    the currencies."""
    report = []
    for (brand, affiliate, campaign), g in sorted(_group(funnel_rows, fx).items()):
        counts, money = g["counts"], dict(sorted(g["money"].items()))

        def by_currency(name: str) -> dict[str, str]:
            return {c: format_amount(_amount(name, values)) for c, values in money.items()}  # noqa: B023

        row: dict[str, Any] = {
            "brand_id": brand,
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
        row["by_currency"] = {c: dict(n) for c, n in sorted(g["by_currency"].items())}
        if fx is not None:
            _add_reporting(row, g, fx)
        report.append(row)
    return report


def render(report: list[dict[str, Any]], fmt: str, currency: str | None = None) -> str:
    """JSON: the rows as they are; CSV and table: one row per currency (funnel_table)."""
    if fmt == "json":
        return json.dumps(report, indent=2)
    return render_rows(report, fmt, currency)


def _add_reporting(row: dict[str, Any], g: dict[str, Any], fx: FxTable) -> None:
    complete = not g["fx_missing"]
    row["reporting_currency"] = fx.reporting
    for name in (*(m.name for m in MONEY), *DERIVED):
        amount = _amount(name, g["reporting"]).quantize(Decimal("0.01"))
        row[f"{name}_reporting"] = format_amount(amount) if complete else None
    if not complete:
        row["fx_missing"] = sorted(g["fx_missing"])

