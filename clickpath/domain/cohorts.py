"""Registration cohorts: which week or month a registration belongs to in a brand's time zone,
the LTV windows, retention fractions and CPA-to-LTV (docs/cohorts.md).

Pure: no ClickHouse, no clock. ClickHouse keeps the sums by UTC 15-minute registration slot
(deploy/clickhouse/007_cohorts.sql); clickpath/infra/cohorts.py reads them per time zone and
hands the raw rows here to be finished. `cohort_start` is the definition the SQL follows
(tests hold the two to each other).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clickpath.contracts.money import Money, format_amount

Grain = Literal["week", "month"]
GRAINS: tuple[Grain, ...] = ("week", "month")
WINDOWS: tuple[int, ...] = (30, 90, 365)
"""LTV windows: a window of N days holds the facts aged 0 to N - 1 days since registration
(day 0 = the registration's UTC day)."""
PERIOD_DAYS = 30
"""Retention period N holds the facts aged [30N, 30N + 30) days since registration."""
UTC_ZONE = "UTC"

# IANA names: letters, digits, '_', '+', '-' and '/' only; they are put into SQL as constants.
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")

CohortKey = tuple[str, str, str, date]
"""(brand_id, affiliate_id, campaign_id, cohort start)."""


def check_time_zone(name: str, where: str = "time zone") -> str:
    """`name` if it is an IANA time zone this machine knows, else ValueError."""
    if not _ZONE_NAME.match(name):
        raise ValueError(f"{where}: {name[:64]!r} is not an IANA time zone name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where}: unknown time zone {name[:64]!r} (e.g. Europe/Malta)") from None
    return name


def check_grain(grain: str) -> Grain:
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}, not {grain[:16]!r}")
    return grain


def start_of(day: date, grain: Grain) -> date:
    """The first day of `day`'s ISO week (Monday) or month."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def cohort_start(registered_at: datetime, grain: Grain, zone: str = UTC_ZONE) -> date:
    """The cohort of a registration: the week (from Monday) or month of its date in `zone`."""
    return start_of(registered_at.astimezone(ZoneInfo(zone)).date(), grain)


def age_days(registered_at: datetime, day: date) -> int:
    """Whole UTC days from the registration's UTC day to `day` (0 on the registration day)."""
    return (day - registered_at.astimezone(UTC).date()).days


def in_window(age: int, days: int) -> bool:
    return 0 <= age < days


def zone_groups(
    brand_id: str | None, time_zones: Mapping[str, str]
) -> list[tuple[str, list[str] | None, list[str]]]:
    """How to read every brand in its own zone: (zone, only these brands or None for any,
    except these brands). One query per zone keeps the zone a constant in the SQL."""
    if brand_id is not None:
        return [(time_zones.get(brand_id, UTC_ZONE), [brand_id], [])]
    by_zone: dict[str, list[str]] = {}
    for brand, zone in sorted(time_zones.items()):
        by_zone.setdefault(zone, []).append(brand)
    groups: list[tuple[str, list[str] | None, list[str]]] = [
        (zone, brands, []) for zone, brands in sorted(by_zone.items()) if zone != UTC_ZONE
    ]
    zoned = sorted(b for brands in by_zone.values() for b in brands if time_zones[b] != UTC_ZONE)
    groups.append((UTC_ZONE, None, zoned))
    return groups


def cpa_to_ltv(cpa: Money | None, currency: str, ngr: Decimal) -> Decimal | None:
    """CPA-to-LTV: the CPA the cohort accrued over the NGR it brought (LTV = NGR), in one
    currency. Below 1: the NGR paid the CPA back.

    None when it means nothing: no CPA accrued, a CPA in another currency (no conversion is
    guessed), or no positive NGR (a ratio over a loss would read as better than none)."""
    if cpa is None or cpa.currency != currency or cpa.amount <= 0 or ngr <= 0:
        return None
    return (cpa.amount / ngr).quantize(Decimal("0.0001"))


def periods_reached(cohort: date, as_of: date, periods: int) -> int:
    """How many of the periods 0 .. periods - 1 have begun for the cohort's first players by
    `as_of`: period N begins PERIOD_DAYS * N days after registration."""
    if as_of < cohort:
        return 0
    return min(periods, (as_of - cohort).days // PERIOD_DAYS + 1)


def retention_fractions(players: int, active: Sequence[int]) -> list[float | None]:
    """Active ÷ players per period (4 decimals); None for a cohort with no players."""
    if players <= 0:
        return [None for _ in active]
    return [round(a / players, 4) for a in active]


def amount_text(value: Decimal | int | str) -> str:
    """An amount as `format_amount` writes it (two decimals at least, more only where the
    amount has them). Decimal text, as ClickHouse's toString writes a Decimal, is reformatted
    as text: a report of 200k rows would spend seconds making and rounding Decimals."""
    if not isinstance(value, str):
        return format_amount(Decimal(value))
    whole, _, fraction = value.partition(".")
    return f"{whole}.{fraction.rstrip('0'):0<2}"


def _is_zero(value: Decimal | int | str) -> bool:
    return not value.strip("-0.") if isinstance(value, str) else not value


def _add(a: Decimal | int | str, b: Decimal | int | str) -> Decimal:
    return Decimal(str(a)) + Decimal(str(b))


COHORT_SUMS = ("players", "ftds", *(f"deposits_{w}" for w in WINDOWS), *(f"ngr_{w}" for w in WINDOWS))
"""What a raw cohort row carries after (brand, affiliate, campaign, cohort, currency): counts
as int, amounts as Decimal, int or Decimal text."""


def accrued_cpa(raw: Iterable[Sequence[Any]]) -> dict[CohortKey, list[Money]]:
    """The CPA accrued per cohort from raw rows (brand, affiliate, campaign, cohort, currency,
    net amount of the cohort's CPA entries), per currency, the nets of zero left out."""
    sums: dict[CohortKey, dict[str, Decimal]] = {}
    for brand, affiliate, campaign, cohort, currency, amount in raw:
        by_currency = sums.setdefault((brand, affiliate, campaign, cohort), {})
        by_currency[currency] = by_currency.get(currency, Decimal(0)) + Decimal(str(amount))
    return {
        key: [Money(a, c) for c, a in sorted(by_currency.items()) if a]
        for key, by_currency in sums.items()
    }


def cohort_rows(
    raw: Iterable[Sequence[Any]], cpa: Mapping[CohortKey, Sequence[Money]]
) -> list[dict[str, Any]]:
    """Finished cohort rows from raw ones (brand, affiliate, campaign, cohort, currency,
    *COHORT_SUMS), summed per currency: one row per currency the cohort has money in (or one
    row with currency '' when it has none yet), each with the cohort's players and the CPA
    it accrued (`accrued_cpa`; neither to be added up across its currency rows), JSON-able
    (Decimal as str)."""
    sums: dict[CohortKey, dict[str, list[Any]]] = {}
    for brand, affiliate, campaign, cohort, currency, *values in raw:
        by_currency = sums.setdefault((brand, affiliate, campaign, cohort), {})
        held = by_currency.get(currency)
        if held is None:
            by_currency[currency] = values
        else:  # the same group twice (raw rows need not be grouped): add up
            by_currency[currency] = [_add(a, b) for a, b in zip(held, values, strict=True)]
    rows = []
    empty: list[Any] = [0] * len(COHORT_SUMS)
    for (brand, affiliate, campaign, cohort), by_currency in sorted(sums.items()):
        players = int(sum(int(v[0]) for v in by_currency.values()))
        money = {c: v for c, v in by_currency.items() if c and not all(map(_is_zero, v[1:]))}
        if not players and not money:
            continue  # emptied by a re-tag: never there
        accrued = {m.currency: m for m in cpa.get((brand, affiliate, campaign, cohort), ())}
        head = {
            "brand_id": brand,
            "affiliate_id": affiliate,
            "campaign_id": campaign,
            "cohort": cohort.isoformat(),
        }
        for currency, v in sorted(money.items()) or [("", empty)]:
            ratio = cpa_to_ltv(accrued.get(currency), currency, Decimal(str(v[-1])))
            row = {**head, "currency": currency, "players": players, "ftds": int(v[1])}
            row.update(zip(COHORT_SUMS[2:], map(amount_text, v[2:]), strict=True))
            row["cpa_accrued"] = ", ".join(map(str, accrued.values())) or None
            row["cpa_to_ltv_365"] = _str_or_none(ratio)
            rows.append(row)
    return rows


def _str_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def retention_rows(
    players: Iterable[tuple[CohortKey, int]],
    active: Iterable[tuple[CohortKey, int, int]],
    periods: int,
    as_of: date | None = None,
) -> list[dict[str, Any]]:
    """Finished retention rows from the players per cohort and the active players per
    (cohort, period): `active` and `retention` list periods 0 .. periods - 1. With `as_of`
    (the day of the read), a period no player of the cohort can have reached yet (it starts
    after `as_of` even for the cohort's first day) is None, not a retention of 0."""
    counts: dict[CohortKey, int] = {}
    for key, n in players:
        counts[key] = counts.get(key, 0) + int(n)
    by_period: dict[CohortKey, list[int]] = {}
    for key, period, n in active:
        if 0 <= period < periods:
            by_period.setdefault(key, [0] * periods)[period] += int(n)
    rows = []
    for key in sorted(set(counts) | set(by_period)):
        brand, affiliate, campaign, cohort = key
        n_players, n_active = counts.get(key, 0), by_period.get(key, [0] * periods)
        if not n_players and not any(n_active):
            continue
        reached = periods if as_of is None else periods_reached(cohort, as_of, periods)
        shares = retention_fractions(n_players, n_active)
        rows.append(
            {
                "brand_id": brand,
                "affiliate_id": affiliate,
                "campaign_id": campaign,
                "cohort": cohort.isoformat(),
                "players": n_players,
                "active": [*n_active[:reached], *[None] * (periods - reached)],
                "retention": [*shares[:reached], *[None] * (periods - reached)],
            }
        )
    return rows
