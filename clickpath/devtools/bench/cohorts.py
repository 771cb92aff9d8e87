"""`clickpath bench-cohorts`: cohorts over 1M players, through the real DDL and views.

Fills `fact_rows` by bulk Arrow inserts with the rows the sink writes (each fact version a row,
a re-tag as the cancel of the old row plus the new one, every row carrying the player's
registration time), so the materialized views of deploy/clickhouse/007_cohorts.sql keep
`cohort_agg` and `cohort_activity` as they would for the sink. Then times `query_cohorts`
(week, month) and `query_retention` (week, month; 12 periods) with each brand in its own time
zone, checks the answers against the generated totals (players, deposits at 365 days, NGR),
and reports the process's peak memory (chdb runs in it) while filling and while querying.

Synthetic data: 4 brands (UTC, Europe/Berlin, America/New_York, Asia/Kathmandu), 100
affiliates with 3 campaigns each, 3 currencies, registrations spread over a year; 60 % of the
players deposit, on a few days each at ages drawn from an exponential of 60 days (so windows
and periods all hold data), with stakes, wins, bonus cost and a few chargebacks; 5 % of the
players are re-tagged late (unattributed first, then cancelled and written again). Every
depositor has a CPA accrual in `commission_ledger` (their affiliate's amount and currency), 5 %
of them clawed back, which the cohort rows sum. Ends with a table and one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from clickpath.devtools.bench.embedded import bench_database, reset_peak
from clickpath.devtools.bench.results import commit, machine, record_result
from clickpath.devtools.procs import peak_rss_mib
from clickpath.infra.cohorts import query_cohorts, query_retention

DB = "clickpath_bench"
START = datetime(2025, 1, 1, tzinfo=UTC)
DAY_MS = 86_400_000
BRAND_ZONES = {
    "brand-0": "UTC",
    "brand-1": "Europe/Berlin",
    "brand-2": "America/New_York",
    "brand-3": "Asia/Kathmandu",
}
AFFILIATES, CAMPAIGNS = 100, 3
CURRENCIES = ("EUR", "USD", "GBP")
TARGET_S, TARGET_GIB = 60.0, 4.0


@dataclass(frozen=True)
class CohortBenchConfig:
    players: int = 1_000_000
    chunk: int = 200_000
    repeats: int = 3
    periods: int = 12
    dsn: str | None = None  # None: a fresh embedded chdb directory, removed afterwards
    results_file: Path | None = None
    seed: int = 11


@dataclass
class Expected:
    """What the generated live facts add up to, for checking the answers."""

    players: int = 0
    deposits_365: int = 0
    ngr_365: int = 0
    cpa: int = 0


def _chunk(first: int, n: int, seed: int, expected: Expected) -> tuple[Any, Any]:
    """The fact rows of players first .. first + n - 1 as one Arrow table, and their CPA
    ledger entries as another."""
    import numpy as np
    import pyarrow as pa  # type: ignore[import-untyped]  # no stubs; a dependency of chdb

    rng = np.random.default_rng(seed + first)
    ids = np.arange(first, first + n)
    brand = ids % len(BRAND_ZONES)
    brand_s = np.char.add("brand-", brand.astype(str))
    person = np.char.add(np.char.add(brand_s, ":p"), ids.astype(str))
    affiliate = rng.integers(0, AFFILIATES, n)
    aff_s = np.char.add("aff-", affiliate.astype(str))
    camp_s = np.char.add("camp-", (affiliate * CAMPAIGNS + rng.integers(0, CAMPAIGNS, n)).astype(str))
    currency = np.array(CURRENCIES)[rng.integers(0, len(CURRENCIES), n)]
    reg_ms = int(START.timestamp() * 1000) + rng.integers(0, 365 * DAY_MS, n)
    reg_day = reg_ms // DAY_MS

    # Money days: 60 % deposit, on 1 + geometric(1/5) distinct ages (exponential, 60 days).
    depositor = rng.random(n) < 0.6
    days = np.where(depositor, np.minimum(rng.geometric(0.2, n), 40), 0)
    owner = np.repeat(np.arange(n), days)
    age = np.minimum(rng.exponential(60, owner.size).astype(np.int64), 500)
    pair = np.unique(owner * 1000 + age)  # one fact per (player, day)
    owner, age = pair // 1000, pair % 1000
    first_day = np.r_[True, owner[1:] != owner[:-1]]  # the FTD: each player's earliest day
    m = owner.size
    amount = rng.integers(10, 500, m)
    deposits = rng.integers(1, 4, m)
    stakes = amount * rng.integers(3, 13, m)
    wins = stakes * rng.integers(85, 100, m) // 100
    bonus_cost = stakes // 40
    chargeback = np.where(rng.random(m) < 0.01, amount, 0)
    live = age < 365
    expected.players += n
    expected.deposits_365 += int(amount[live].sum())
    expected.ngr_365 += int((stakes - wins - bonus_cost - chargeback)[live].sum())

    def money(values: Any) -> Any:
        return pa.array(values.astype(np.int32), pa.int32()).cast(pa.decimal128(20, 4))

    def zeros(k: int) -> Any:
        return np.zeros(k, np.int64)

    # Registration facts (currency ''), then money facts; columns as the sink writes them.
    who = np.r_[np.arange(n), owner]
    k = who.size
    is_reg = np.r_[np.ones(n, bool), np.zeros(m, bool)]
    cols = {
        "person_id": person[who],
        "brand_id": brand_s[who],
        "day": pa.array(np.r_[reg_day, reg_day[owner] + age].astype(np.int32)).cast(pa.date32()),
        "currency": np.where(is_reg, "", currency[who]),
        "registrations": is_reg.astype(np.uint32),
        "ftds": np.r_[zeros(n), first_day].astype(np.uint32),
        "deposits": np.r_[zeros(n), deposits].astype(np.uint32),
        "deposit_sum": money(np.r_[zeros(n), amount]),
        "ftd_sum": money(np.r_[zeros(n), np.where(first_day, amount, 0)]),
        "chargebacks": np.r_[zeros(n), chargeback > 0].astype(np.uint32),
        "chargeback_sum": money(np.r_[zeros(n), chargeback]),
        "stakes": money(np.r_[zeros(n), stakes]),
        "wins": money(np.r_[zeros(n), wins]),
        "bonus_cost": money(np.r_[zeros(n), bonus_cost]),
        "registered_at": pa.array(reg_ms[who], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
    }
    table = pa.table(
        {
            **cols,
            "affiliate_id": aff_s[who],
            "campaign_id": camp_s[who],
            "version": np.full(k, 2, np.uint64),
            "sign": np.ones(k, np.int8),
        }
    )
    # 5 % re-tagged late: first written unattributed (version 1), then that row cancelled.
    retag = rng.random(n)[who] < 0.05
    blank = np.full(int(retag.sum()), "")
    early = pa.table(
        {
            **{
                c: (v.filter(pa.array(retag)) if isinstance(v, pa.Array) else v[retag])
                for c, v in cols.items()
            },
            "affiliate_id": blank,
            "campaign_id": blank,
            "version": np.ones(blank.size, np.uint64),
        }
    )
    ones = np.ones(blank.size, np.int8)
    facts = pa.concat_tables(
        [
            early.append_column("sign", pa.array(ones)),
            early.append_column("sign", pa.array(-ones)),
            table,
        ]
    )
    return facts, _cpa_entries(rng, np.flatnonzero(depositor), person, brand_s, aff_s, camp_s,
                               affiliate, reg_ms, expected)


def _cpa_entries(rng: Any, who: Any, person: Any, brand_s: Any, aff_s: Any, camp_s: Any,
                 affiliate: Any, reg_ms: Any, expected: Expected) -> Any:
    """A CPA accrual per depositor (`who`), 5 % of them followed by their clawback."""
    import numpy as np
    import pyarrow as pa

    amount = 20 + affiliate[who] % 7 * 10
    clawed = rng.random(who.size) < 0.05
    expected.cpa += int(amount[~clawed].sum())
    rows = np.r_[who, who[clawed]]
    signed = np.r_[amount, -amount[clawed]]
    kind = np.r_[np.full(who.size, "accrual"), np.full(int(clawed.sum()), "clawback")]
    k = rows.size
    money = pa.array(signed.astype(np.int64), pa.int64()).cast(pa.decimal128(38, 6))
    at = pa.array(reg_ms[rows] + DAY_MS, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    return pa.table(
        {
            "entry_id": np.char.add(np.char.add(person[rows], ":"), kind),
            "affiliate_id": aff_s[rows],
            "period": np.full(k, "2025-01"),
            "kind": kind,
            "component": np.full(k, "cpa"),
            "amount": money,
            "currency": np.array(CURRENCIES)[affiliate[rows] % len(CURRENCIES)],
            "plan_id": np.full(k, "bench-cpa"),
            "plan_version": np.ones(k, np.int64),
            "occurred_at": at,
            "recorded_at": at,
            "registered_at": pa.array(reg_ms[rows], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "player_brand_id": brand_s[rows],
            "player_campaign_id": camp_s[rows],
        }
    )


def _check(rows: list[dict[str, Any]], expected: Expected) -> dict[str, bool]:
    """Whether the month cohorts add up to the generated players, deposits, NGR and CPA."""
    players: dict[tuple[str, str, str, str], int] = {}
    cpa: dict[tuple[str, str, str, str], Decimal] = {}
    deposits, ngr = Decimal(0), Decimal(0)
    for r in rows:
        key = (r["brand_id"], r["affiliate_id"], r["campaign_id"], r["cohort"])
        players[key] = r["players"]
        cpa[key] = sum((Decimal(m.split()[0]) for m in (r["cpa_accrued"] or "").split(", ") if m),
                       Decimal(0))
        deposits += Decimal(r["deposits_365"])
        ngr += Decimal(r["ngr_365"])
    return {
        "players": sum(players.values()) == expected.players,
        "deposits_365": deposits == expected.deposits_365,
        "ngr_365": ngr == expected.ngr_365,
        "cpa_accrued": sum(cpa.values()) == expected.cpa,
    }


def run_cohort_bench(cfg: CohortBenchConfig) -> dict[str, Any]:
    expected = Expected()
    with bench_database(cfg.dsn, DB, prefix="clickpath-bench-cohorts-") as client:
        reset_peak()
        started, rows_written = time.perf_counter(), 0
        for first in range(0, cfg.players, cfg.chunk):
            table, entries = _chunk(first, min(cfg.chunk, cfg.players - first), cfg.seed, expected)
            client.insert_arrow(f"{DB}.fact_rows", table)
            client.insert_arrow(f"{DB}.commission_ledger", entries)
            rows_written += table.num_rows
        fill_s = time.perf_counter() - started
        fill_peak = peak_rss_mib(os.getpid())
        sizes = {
            t: int(client.query(f"SELECT count() FROM {DB}.{t}").result_rows[0][0])
            for t in ("fact_rows", "cohort_agg", "cohort_activity", "commission_ledger")
        }
        reset = reset_peak()
        common: dict[str, Any] = dict(brand_id=None, time_zones=BRAND_ZONES, since=None, until=None)
        queries: dict[str, Callable[[], list[dict[str, Any]]]] = {
            "cohorts_week": lambda: query_cohorts(client, DB, grain="week", **common),
            "cohorts_month": lambda: query_cohorts(client, DB, grain="month", **common),
            "retention_week": lambda: query_retention(
                client, DB, grain="week", periods=cfg.periods, **common
            ),
            "retention_month": lambda: query_retention(
                client, DB, grain="month", periods=cfg.periods, **common
            ),
        }
        timings: dict[str, list[float]] = {}
        answers: dict[str, int] = {}
        month_rows: list[dict[str, Any]] = []
        for _ in range(cfg.repeats):
            for name, run in queries.items():
                t0 = time.perf_counter()
                out = run()
                timings.setdefault(name, []).append(time.perf_counter() - t0)
                answers[name] = len(out)
                if name == "cohorts_month":
                    month_rows = out
        query_peak = peak_rss_mib(os.getpid())
        result: dict[str, Any] = {
            "bench": "cohorts",
            "players": cfg.players,
            "fact_rows_written": rows_written,
            "table_rows": sizes,
            "fill_s": round(fill_s, 1),
            "fill_rows_per_s": round(rows_written / fill_s),
            "query_s": {
                k: {"median": round(statistics.median(v), 3), "max": round(max(v), 3)}
                for k, v in timings.items()
            },
            "rows_returned": answers,
            "all_queries_s": round(sum(statistics.median(v) for v in timings.values()), 2),
            "peak_rss_mib": {"fill": fill_peak, "queries": query_peak if reset else None},
            "exact": _check(month_rows, expected),
            "dsn": "server" if cfg.dsn else "chdb",
            "machine": machine(),
            "commit": commit(),
        }
    record_result(cfg.results_file, result)
    _print(result)
    return result


def _print(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"clickpath bench-cohorts — {r['commit']} on {r['machine']['cpus']} CPUs")
    for col in ("measure", "value", "target"):
        table.add_column(col)
    table.add_row("players / fact rows written", f"{r['players']:,} / {r['fact_rows_written']:,}", "")
    table.add_row("fill (Arrow inserts, views on)", f"{r['fill_s']} s ({r['fill_rows_per_s']:,} rows/s)", "")
    table.add_row(
        "rows in fact_rows / cohort_agg / cohort_activity",
        " / ".join(f"{v:,}" for v in r["table_rows"].values()),
        "",
    )
    for name, q in r["query_s"].items():
        table.add_row(
            f"{name} (median, max)", f"{q['median']} s, {q['max']} s ({r['rows_returned'][name]:,} rows)", ""
        )
    table.add_row("the four queries, medians summed", f"{r['all_queries_s']} s", f"< {TARGET_S:.0f} s")
    peaks = r["peak_rss_mib"]
    table.add_row(
        "peak RSS MiB (chdb in process): fill / queries",
        f"{peaks['fill']:.0f} / " + ("-" if peaks["queries"] is None else f"{peaks['queries']:.0f}"),
        f"< {TARGET_GIB * 1024:.0f}",
    )
    table.add_row(
        "answers add up (players, deposits_365, ngr_365, cpa_accrued)",
        ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r["exact"].items()),
        "all yes",
    )
    Console().print(table)
    print(
        json.dumps(
            {
                "players": r["players"],
                "all_queries_s": r["all_queries_s"],
                "fill_s": r["fill_s"],
                "query_median_s": {k: q["median"] for k, q in r["query_s"].items()},
                "peak_rss_mib": r["peak_rss_mib"],
                "exact": all(r["exact"].values()),
            }
        ),
        flush=True,
    )
