"""Rows and renderings of the analyst reports: attribution credit per model, LTV cohorts,
retention, and the answer of an analyst SQL query (docs/analytics.md).

Pure: the credits and rows come in (clickpath.domain.multitouch, the cohort queries), rows and
text go out. Amounts and credits stay exact decimal strings in JSON and CSV; only the table
rounds them for reading. Conversions with no touchpoint (organic) are credited by no model, so
no row carries them: the table says so under it. Attribution comes long (a row per model and
channel) or wide (the models as columns); in the cohorts' table and CSV a cohort's players are
on its first currency row only, and retention's periods are PERIOD_DAYS long.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Console
from rich.table import Table

from clickpath.domain.cohorts import PERIOD_DAYS
from clickpath.domain.multitouch import MODELS, Credit
from clickpath.domain.report import UNATTRIBUTED

ORGANIC_NOTE = (
    "Conversions with no touchpoint (organic) are not credited: each model's credits sum to the"
    " converted paths with at least one click."
)


def params_problem(
    half_life_days: float, position_first: Decimal, position_last: Decimal
) -> tuple[str, str] | None:
    """(parameter, what is wrong) when the models' parameters make no sense, else None."""
    if not 0 < half_life_days < math.inf:
        return "half_life_days", "the time-decay half-life must be over 0 days"
    for name, share in (("position_first", position_first), ("position_last", position_last)):
        if not share.is_finite() or not 0 <= share <= 1:
            return name, "a position share is between 0 and 1"
    if position_first + position_last > 1:
        return "position_last", "position_first + position_last is over 1"
    return None


def _exact(value: Decimal) -> str:
    return f"{value:f}"


def split_channel(channel: str, by: str) -> tuple[str, str | None]:
    """A credit's channel as (affiliate_id, campaign_id): `--by campaign` channels are
    `affiliate/campaign` (split at the first slash), `--by affiliate` ones the affiliate."""
    if by != "campaign":
        return channel, None
    affiliate, _, campaign = channel.partition("/")
    return affiliate, campaign


def credit_rows(credits: Iterable[Credit], *, by: str, conversion: str) -> list[dict[str, Any]]:
    """One row per model and channel, models in MODELS order, then by affiliate and campaign."""
    order = {m: i for i, m in enumerate(MODELS)}
    rows = []
    for c in credits:
        affiliate, campaign = split_channel(c.channel, by)
        row: dict[str, Any] = {"model": c.model, "affiliate_id": affiliate}
        if by == "campaign":
            row["campaign_id"] = campaign
        row["conversion"] = conversion
        row["conversions"] = _exact(c.conversions)
        row["value"] = {cur: _exact(amount) for cur, amount in sorted(c.value.items())}
        rows.append(row)
    rows.sort(
        key=lambda r: (order.get(r["model"], len(order)), r["affiliate_id"], r.get("campaign_id") or "")
    )
    return rows


def _rounded(text: Any) -> str:
    """A decimal string to two places, for the table only."""
    if text is None:
        return "-"
    try:
        return f"{Decimal(str(text)).quantize(Decimal('0.01')):f}"
    except InvalidOperation:
        return str(text)


def _money(by_currency: dict[str, Any]) -> str:
    return ", ".join(f"{_rounded(a)} {c}" for c, a in sorted(by_currency.items())) or "-"


def _console_text(table: Table, *notes: str) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    console.print(table)
    for note in notes:
        console.print(note)
    return out.getvalue()


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header and rows as CSV text (every report's `--format csv`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _currencies(rows: Iterable[dict[str, Any]], field: str) -> list[str]:
    return sorted({c for r in rows for c in (r.get(field) or {})})


def wide_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Credit rows with the models side by side: one row per channel and conversion, with
    `conversions` and `value` keyed by model (MODELS order)."""
    order = {m: i for i, m in enumerate(MODELS)}
    wide: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: order.get(r["model"], len(order))):
        key = (r["affiliate_id"], r.get("campaign_id"), r["conversion"])
        row = wide.setdefault(key, {
            "affiliate_id": r["affiliate_id"],
            **({"campaign_id": r["campaign_id"]} if "campaign_id" in r else {}),
            "conversion": r["conversion"], "conversions": {}, "value": {},
        })
        row["conversions"][r["model"]] = r["conversions"]
        row["value"][r["model"]] = r["value"]
    return [wide[k] for k in sorted(wide, key=lambda k: (k[0], k[1] or "", k[2]))]


def _render_wide(rows: list[dict[str, Any]], fmt: str) -> str:
    """Models as columns: JSON the wide rows; CSV and table one row per channel and currency,
    `<model>_conversions` on the channel's first row only (a credit is in no currency) and
    `<model>_value` in the row's currency."""
    wide = wide_rows(rows)
    if fmt == "json":
        return json.dumps(wide, indent=2) + "\n"
    models = [m for m in MODELS if any(m in w["conversions"] for w in wide)]
    by_campaign = any("campaign_id" in w for w in wide)
    keys = ["affiliate_id", *(["campaign_id"] if by_campaign else []), "conversion"]
    flat = []
    for w in wide:
        currencies = sorted({c for value in w["value"].values() for c in value}) or [""]
        for i, cur in enumerate(currencies):
            credit = [w["conversions"].get(m, "") if i == 0 else "" for m in models]
            value = [w["value"].get(m, {}).get(cur, "0" if cur else "") for m in models]
            flat.append(([w.get(k, "") for k in keys], cur, credit, value))
    if fmt == "csv":
        return csv_text(
            [*keys, "currency", *(f"{m}_conversions" for m in models), *(f"{m}_value" for m in models)],
            ([*k, cur, *credit, *value] for k, cur, credit, value in flat),
        )
    # One --conversion per report: in the title, so that the models' columns keep the width.
    conversions = ", ".join(sorted({w["conversion"] for w in wide})) or "conversions"
    table = Table(title=f"clickpath attribution of {conversions}: the models side by side"
                  " (credit, then value)")
    for name in ("affiliate", *(["campaign"] if by_campaign else []), "currency"):
        table.add_column(name)
    for m in models:
        table.add_column(m, justify="right")
    for m in models:
        table.add_column(f"{m} value", justify="right")
    for k, cur, credit, value in flat:
        table.add_row(*map(str, k[:-1]), cur or "-", *(_rounded(c) if c else "" for c in credit),
                      *(_rounded(v) if v else "" for v in value))
    return _console_text(
        table, *(["No converted paths with a touchpoint yet."] if not rows else []),
        "Credit is on a channel's first row; value is per currency.", ORGANIC_NOTE,
    )


def render_attribution(rows: list[dict[str, Any]], fmt: str, layout: str = "long") -> str:
    """JSON: the rows; CSV: one `value_<CUR>` column per currency; table: credit and value
    rounded to cents, with the organic note. `layout="wide"`: the models as columns."""
    if layout == "wide":
        return _render_wide(rows, fmt)
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    by_campaign = any("campaign_id" in r for r in rows)
    keys = ["model", "affiliate_id", *(["campaign_id"] if by_campaign else []), "conversion"]
    currencies = _currencies(rows, "value")
    if fmt == "csv":
        return csv_text(
            [*keys, "conversions", *(f"value_{c}" for c in currencies)],
            (
                [
                    *(r.get(k, "") for k in keys),
                    r["conversions"],
                    *(r["value"].get(c, "0") for c in currencies),
                ]
                for r in rows
            ),
        )
    table = Table(title="clickpath attribution by model")
    for name in ("model", "affiliate", *(["campaign"] if by_campaign else []), "conversion"):
        table.add_column(name)
    table.add_column("conversions (credit)", justify="right")
    table.add_column("value", justify="right")
    for r in rows:
        table.add_row(*(str(r.get(k, "")) for k in keys), _rounded(r["conversions"]), _money(r["value"]))
    return _console_text(
        table, *(["No converted paths with a touchpoint yet."] if not rows else []), ORGANIC_NOTE
    )


COHORT_COLUMNS = (
    "brand_id",
    "affiliate_id",
    "campaign_id",
    "cohort",
    "currency",
    "players",
    "ftds",
    "deposits_30",
    "deposits_90",
    "deposits_365",
    "ngr_30",
    "ngr_90",
    "ngr_365",
    "cpa_accrued",
    "cpa_to_ltv_365",
)
"""Every figure of a cohort row, in CSV order (LTV = NGR; docs/cohorts.md)."""

def _affiliate(row: dict[str, Any]) -> str:
    """The table's affiliate cell: players tagged to none (organic, unattributed) are named so."""
    return str(row.get("affiliate_id") or UNATTRIBUTED)


_COHORT_TABLE: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("brand", lambda r: str(r.get("brand_id", ""))),
    ("cohort", lambda r: str(r.get("cohort", ""))),
    ("affiliate", lambda r: _affiliate(r)),
    ("campaign", lambda r: str(r.get("campaign_id", ""))),
    ("currency", lambda r: str(r.get("currency") or "-")),
    ("players", lambda r: "" if r.get("players") is None else str(r["players"])),
    ("FTDs", lambda r: str(r.get("ftds", 0))),
    ("deposits 30d", lambda r: _rounded(r.get("deposits_30"))),
    ("deposits 90d", lambda r: _rounded(r.get("deposits_90"))),
    ("deposits 365d", lambda r: _rounded(r.get("deposits_365"))),
    ("LTV 30d", lambda r: _rounded(r.get("ngr_30"))),
    ("LTV 90d", lambda r: _rounded(r.get("ngr_90"))),
    ("LTV 365d", lambda r: _rounded(r.get("ngr_365"))),
    ("CPA accrued", lambda r: "-" if r.get("cpa_accrued") is None else str(r["cpa_accrued"])),
    ("CPA:LTV 365d", lambda r: _rounded(r.get("cpa_to_ltv_365"))),
)


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _players_once(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with `players` on each cohort's first currency row only: a cohort's players
    are not in a currency, and repeating them on every row would count them once per currency."""
    shown, previous = [], None
    for r in rows:
        key = (r.get("brand_id"), r.get("affiliate_id"), r.get("campaign_id"), r.get("cohort"))
        shown.append(r if key != previous else {**r, "players": None})
        previous = key
    return shown


def render_cohorts(rows: list[dict[str, Any]], fmt: str) -> str:
    """JSON: the rows (each currency row with its cohort's players); CSV and table: `players`
    on a cohort's first row only."""
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    rows = _players_once(rows)
    if fmt == "csv":
        return csv_text(COHORT_COLUMNS, ([_cell(r.get(k)) for k in COHORT_COLUMNS] for r in rows))
    table = Table(title="clickpath registration cohorts: value since registration (LTV = NGR)")
    for name, _ in _COHORT_TABLE:
        left = name in ("brand", "cohort", "affiliate", "campaign")
        table.add_column(name, justify="left" if left else "right")
    for r in rows:
        table.add_row(*(cell(r) for _, cell in _COHORT_TABLE))
    notes = ["No cohorts yet."] if not rows else []
    return _console_text(
        table, *notes, "players: on a cohort's first currency row. CPA:LTV is '-' where no CPA is"
        " configured for the affiliate."
    )


ACTIVE_NOTE = (
    "Active: at least one approved deposit or real-money stake in the period (days since the"
    f" registration's UTC day; period N is days {PERIOD_DAYS}N to {PERIOD_DAYS}N + {PERIOD_DAYS - 1})."
    " '-': a period the cohort has not reached yet."
)


def _periods(rows: Iterable[dict[str, Any]]) -> int:
    return max((len(r.get("active") or ()) for r in rows), default=0)


def render_retention(rows: list[dict[str, Any]], fmt: str) -> str:
    """CSV: `active_N` and `retention_N` columns per period N (PERIOD_DAYS days each); table:
    the share per period, headed by its days, with what "active" means under it."""
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    periods = _periods(rows)
    keys = ("brand_id", "affiliate_id", "campaign_id", "cohort", "players")

    def series(r: dict[str, Any], name: str) -> list[Any]:
        values = list(r.get(name) or ())
        return [_cell(v) for v in values] + [""] * (periods - len(values))

    if fmt == "csv":
        return csv_text(
            [*keys, *(f"active_{n}" for n in range(periods)), *(f"retention_{n}" for n in range(periods))],
            ([_cell(r.get(k)) for k in keys] + series(r, "active") + series(r, "retention") for r in rows),
        )
    table = Table(title=f"clickpath retention: share of each cohort active in each {PERIOD_DAYS}-day"
                  " period since registration")
    for name in ("brand", "cohort", "affiliate", "campaign", "players"):
        table.add_column(name, justify="right" if name == "players" else "left")
    for n in range(periods):
        table.add_column(f"days {n * PERIOD_DAYS}–{n * PERIOD_DAYS + PERIOD_DAYS - 1}", justify="right")
    for r in rows:
        # "-": a period the cohort has not reached yet (or a cohort without players).
        shares = [f"{float(v) * 100:.1f}%" if v not in ("", None) else "-" for v in series(r, "retention")]
        table.add_row(
            str(r.get("brand_id", "")),
            str(r.get("cohort", "")),
            _affiliate(r),
            str(r.get("campaign_id", "")),
            str(r.get("players", 0)),
            *shares,
        )
    return _console_text(table, *(["No cohorts yet."] if not rows else []), ACTIVE_NOTE)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def render_sql(answer: dict[str, Any], fmt: str) -> str:
    """An analyst query's answer ({columns, types, rows, truncated}): JSON as it came, CSV with a
    header (maps and arrays as JSON), or a table."""
    if fmt == "json":
        return json.dumps(answer, indent=2) + "\n"
    columns, rows = answer["columns"], answer["rows"]
    why = f" (the answer had {answer['truncated_reason']})" if answer.get("truncated_reason") else ""
    truncated = [f"Truncated: only the first {len(rows)} rows{why}."] if answer.get("truncated") else []
    if fmt == "csv":
        return csv_text(columns, ([_text(v) for v in row] for row in rows))
    table = Table()
    for name in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*(_text(v) for v in row))
    return _console_text(table, f"{len(rows)} row{'s' if len(rows) != 1 else ''}", *truncated)
