"""Registration cohorts read from ClickHouse: LTV (deposits and NGR at 30, 90 and 365 days),
CPA-to-LTV and retention per brand, affiliate, campaign and week or month (docs/cohorts.md).

Reads the summed aggregates the materialized views of deploy/clickhouse/007_cohorts.sql keep
(`cohort_agg`, `cohort_activity`) and the CPA entries of the commission ledger (each entry
id's earliest copy, as the `ledger_entries` view takes it), never FINAL: the sums are exact
whether or not ClickHouse has merged them. Each brand's weeks and months are in its own time
zone: one query of the aggregates per zone, the zone a constant in the SQL (checked against the
IANA names first), and one pass over the ledger; the rows are finished by
clickpath.domain.cohorts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from clickpath.domain.cohorts import (
    WINDOWS,
    CohortKey,
    Grain,
    accrued_cpa,
    check_grain,
    check_time_zone,
    cohort_rows,
    retention_rows,
    zone_groups,
)

_START = {"week": "toMonday", "month": "toStartOfMonth"}
_NGR = "stakes - wins - bonus_cost - chargeback_sum"


def _cohort_sql(grain: Grain, zone: str, registered: str = "reg_slot") -> str:
    """The cohort start of a registration slot (or time) in `zone` (a checked IANA name)."""
    return f"{_START[grain]}(toDate({registered}, '{check_time_zone(zone)}'))"


def _where(
    brands: list[str] | None, others: list[str], since: date | None, until: date | None
) -> tuple[str, dict[str, Any]]:
    where: list[str] = ["1"]
    params: dict[str, Any] = {}
    if brands is not None:
        where.append("brand_id IN {brands:Array(String)}")
        params["brands"] = brands
    if others:
        where.append("brand_id NOT IN {others:Array(String)}")
        params["others"] = others
    if since:
        where.append("cohort >= {since:Date}")
        params["since"] = since
    if until:
        where.append("cohort <= {until:Date}")
        params["until"] = until
    return " AND ".join(where), params


def query_cohorts(
    client: Client,
    db: str,
    *,
    brand_id: str | None,
    grain: Grain,
    time_zones: Mapping[str, str],
    since: date | None,
    until: date | None,
) -> list[dict[str, Any]]:
    """Cohort rows (domain.cohorts.cohort_rows) of the cohorts starting from `since` to
    `until` (dates in each brand's zone), for one brand or all, with the CPA they accrued."""
    check_grain(grain)
    # Amounts as Decimal text: reading Decimal columns costs the driver more than the query.
    windows = ", ".join(
        f"toString(sumIf(deposit_sum, age_days >= 0 AND age_days < {w})) AS s_deposits_{w}" for w in WINDOWS
    )
    ngr = ", ".join(
        f"toString(sumIf({_NGR}, age_days >= 0 AND age_days < {w})) AS s_ngr_{w}" for w in WINDOWS
    )
    raw: list[Any] = []
    for zone, brands, others in zone_groups(brand_id, time_zones):
        where, params = _where(brands, others, since, until)
        sql = (
            f"SELECT brand_id, affiliate_id, campaign_id, {_cohort_sql(grain, zone)} AS cohort, "
            f"currency, sum(players) AS s_players, sum(ftds) AS s_ftds, {windows}, {ngr} "
            f"FROM {db}.cohort_agg WHERE {where} "
            "GROUP BY brand_id, affiliate_id, campaign_id, cohort, currency"
        )
        raw += client.query(sql, parameters=params).result_rows
    cpa = _accrued_cpa_rows(client, db, grain, zone_groups(brand_id, time_zones), since, until)
    return cohort_rows(raw, accrued_cpa(cpa))


def _accrued_cpa_rows(
    client: Client,
    db: str,
    grain: Grain,
    groups: list[tuple[str, list[str] | None, list[str]]],
    since: date | None,
    until: date | None,
) -> list[Any]:
    """The net of the CPA entries (accruals, adjustments, clawbacks) per cohort and payout
    currency: entries about one player carry its registration, brand and campaign.

    One pass over the ledger's CPA entries, each entry id's earliest copy as `ledger_entries`
    takes it (filtered on the component before grouping, which the view cannot), every brand's
    cohort in its zone by a multiIf over `zone_groups` (the last group's zone the default)."""
    params: dict[str, Any] = {}
    *zoned, (zone, only, _) = groups
    cohort = _cohort_sql(grain, zone, "registered")
    if zoned:
        cases = []
        for i, (other_zone, brands, _) in enumerate(zoned):
            params[f"zone{i}"] = brands
            start = _cohort_sql(grain, other_zone, "registered")
            cases.append(f"brand IN {{zone{i}:Array(String)}}, {start}")
        cohort = f"multiIf({', '.join(cases)}, {cohort})"
    inner = ""
    if only is not None:  # one brand asked for
        inner = " AND player_brand_id IN {brands:Array(String)}"
        params["brands"] = only
    outer, period = _where(None, [], since, until)
    sql = (
        f"SELECT brand, affiliate_id, campaign, {cohort} AS cohort, payout_currency, "
        f"toString(sum(net)) FROM ("
        "SELECT affiliate_id, argMin(tuple(amount, currency, assumeNotNull(registered_at), "
        "assumeNotNull(player_brand_id), ifNull(player_campaign_id, '')), recorded_at) AS e, "
        "e.1 AS net, e.2 AS payout_currency, e.3 AS registered, e.4 AS brand, e.5 AS campaign "
        f"FROM {db}.commission_ledger WHERE component = 'cpa' AND registered_at IS NOT NULL "
        f"AND player_brand_id IS NOT NULL{inner} GROUP BY affiliate_id, period, entry_id) "
        f"WHERE {outer} GROUP BY brand, affiliate_id, campaign, cohort, payout_currency"
    )
    rows: list[Any] = list(client.query(sql, parameters={**params, **period}).result_rows)
    return rows


def query_retention(
    client: Client,
    db: str,
    *,
    brand_id: str | None,
    grain: Grain,
    time_zones: Mapping[str, str],
    periods: int,
    since: date | None,
    until: date | None,
    as_of: date | None = None,
) -> list[dict[str, Any]]:
    """Retention rows (domain.cohorts.retention_rows): per cohort, its players and how many
    were active in each 30-day period 0 .. periods - 1 since their registration; a period
    that has not begun by `as_of` (default: today, UTC) is None."""
    check_grain(grain)
    if not 1 <= periods <= 1000:
        raise ValueError("periods must be from 1 to 1000")
    players: list[tuple[CohortKey, int]] = []
    active: list[tuple[CohortKey, int, int]] = []
    for zone, brands, others in zone_groups(brand_id, time_zones):
        where, params = _where(brands, others, since, until)
        cohort = _cohort_sql(grain, zone)
        rows = client.query(
            f"SELECT brand_id, affiliate_id, campaign_id, {cohort} AS cohort, sum(players) "
            f"FROM {db}.cohort_agg WHERE currency = '' AND {where} "
            "GROUP BY brand_id, affiliate_id, campaign_id, cohort",
            parameters=params,
        ).result_rows
        players += [((b, a, c, d), int(n)) for b, a, c, d, n in rows]
        # A person is active in a period when their sign-weighted active facts sum above zero.
        rows = client.query(
            f"SELECT brand_id, affiliate_id, campaign_id, cohort, period, count() FROM ("
            f"SELECT brand_id, affiliate_id, campaign_id, {cohort} AS cohort, period, person_id "
            f"FROM {db}.cohort_activity WHERE period < {{periods:UInt16}} AND {where} "
            "GROUP BY brand_id, affiliate_id, campaign_id, cohort, period, person_id "
            "HAVING sum(active) > 0) "
            "GROUP BY brand_id, affiliate_id, campaign_id, cohort, period",
            parameters={**params, "periods": periods},
        ).result_rows
        active += [((b, a, c, d), int(p), int(n)) for b, a, c, d, p, n in rows]
    return retention_rows(players, active, periods, as_of or datetime.now(UTC).date())


_SLOT = "toStartOfFifteenMinutes(toDateTime(assumeNotNull(registered_at), 'UTC'))"
_AGE = "dateDiff('day', toDate(assumeNotNull(registered_at), 'UTC'), day)"
# cohort_agg's sums: (column, the fact_rows column it sums, money).
_AGG_SUMS = (
    ("players", "registrations", False),
    ("ftds", "ftds", False),
    ("deposits", "deposits", False),
    ("deposit_sum", "deposit_sum", True),
    ("stakes", "stakes", True),
    ("wins", "wins", True),
    ("bonus_cost", "bonus_cost", True),
    ("chargeback_sum", "chargeback_sum", True),
)
_AGG_KEYS = "brand_id, reg_slot, affiliate_id, campaign_id, age_days, currency"
_ACTIVITY_KEYS = "brand_id, reg_slot, affiliate_id, campaign_id, period, person_id"


def _add_difference(
    client: Client, db: str, table: str, keys: str, expected: str, held: str, sums: list[tuple[str, bool]]
) -> int:
    """Insert into `table` what `expected` (the views' rows from fact_rows) has and `held`
    (the table's own, negated) lacks, per key; the groups that differed."""
    differences = ", ".join(
        f"toDecimal128(sum(m_{name}), 4) AS d_{name}" if money else f"sum(m_{name}) AS d_{name}"
        for name, money in sums
    )
    nonzero = " OR ".join(f"d_{name} != 0" for name, _ in sums)
    diff = f"SELECT {keys}, {differences} FROM ({expected} UNION ALL {held}) GROUP BY {keys} HAVING {nonzero}"
    count = int(client.query(f"SELECT count() FROM ({diff})").result_rows[0][0])
    if count:
        names = ", ".join(name for name, _ in sums)
        client.command(f"INSERT INTO {db}.{table} ({keys}, {names}) {diff}")
    return count


def repair_cohorts(client: Client, db: str) -> int:
    """Make `cohort_agg` and `cohort_activity` equal to what `fact_rows` holds; the groups it
    corrected. As clickpath.infra.clickhouse.repair_funnel, for a process killed between the
    insert into fact_rows and the views' inserts; run at the sink's start (a scan of
    fact_rows)."""
    facts = ", ".join(
        f"toDecimal128(sum(sign * {source}), 4) AS m_{name}"
        if money
        else f"sum(sign * toInt64({source})) AS m_{name}"
        for name, source, money in _AGG_SUMS
    )
    held = ", ".join(
        f"toDecimal128(-sum({name}), 4) AS m_{name}" if money else f"-sum({name}) AS m_{name}"
        for name, _, money in _AGG_SUMS
    )
    repaired = _add_difference(
        client,
        db,
        "cohort_agg",
        _AGG_KEYS,
        f"SELECT brand_id, {_SLOT} AS reg_slot, affiliate_id, campaign_id, "
        f"toInt32({_AGE}) AS age_days, currency, {facts} FROM {db}.fact_rows "
        f"WHERE registered_at IS NOT NULL GROUP BY {_AGG_KEYS}",
        f"SELECT {_AGG_KEYS}, {held} FROM {db}.cohort_agg GROUP BY {_AGG_KEYS}",
        [(name, money) for name, _, money in _AGG_SUMS],
    )
    return repaired + _add_difference(
        client,
        db,
        "cohort_activity",
        _ACTIVITY_KEYS,
        f"SELECT brand_id, {_SLOT} AS reg_slot, affiliate_id, campaign_id, "
        f"toUInt16(intDiv({_AGE}, 30)) AS period, person_id, sum(toInt64(sign)) AS m_active "
        f"FROM {db}.fact_rows WHERE registered_at IS NOT NULL "
        "AND day >= toDate(assumeNotNull(registered_at), 'UTC') AND (deposits > 0 OR stakes > 0) "
        f"GROUP BY {_ACTIVITY_KEYS}",
        f"SELECT {_ACTIVITY_KEYS}, -sum(active) AS m_active FROM {db}.cohort_activity "
        f"GROUP BY {_ACTIVITY_KEYS}",
        [("active", False)],
    )
