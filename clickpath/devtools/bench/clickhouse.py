"""`clickpath bench-clickhouse`: the funnel queries on big tables, through the real DDL and views.

Fills `events` and `fact_rows` by bulk Arrow inserts (the materialized views keep `funnel_agg`
as they would for the sink), in time order as a live stream would, up to each size asked for,
then times the documented funnel queries (`clickpath report` with and without filters, and the
`funnel_daily` example of docs/architecture.md). Synthetic data: 4 brands, 100 affiliates with
3 campaigns each, 3 currencies, 90 days; 70 % clicks, 15 % registrations (5 % of them re-tagged:
a cancel and a new row), 15 % deposits, whose fact rows carry the player's value too (FTD sum,
declined deposits, withdrawals, chargebacks, stakes, wins, bonuses: _player_value). Ends with
one JSON line per size: `{"rows": N, "funnel_p95_ms": ..., "insert_rows_per_s": ...}`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from clickpath.devtools.bench.results import commit, machine, record_result
from clickpath.domain.measures import FACT_MEASURES
from clickpath.infra.clickhouse import apply_migrations, query_funnel

DB = "clickpath_bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90
BRANDS, AFFILIATES, CAMPAIGNS = 4, 100, 3
CURRENCIES = ("EUR", "USD", "GBP")
MONEY = {m.name for m in FACT_MEASURES if m.money}


@dataclass(frozen=True)
class ClickHouseBenchConfig:
    sizes: tuple[int, ...] = (10_000_000,)
    chunk: int = 1_000_000
    repeats: int = 30
    dsn: str | None = None  # None: a fresh embedded chdb directory, removed afterwards
    results_file: Any = None
    seed: int = 7
    extra: dict[str, Any] = field(default_factory=dict)


def _chunk_tables(index: int, n: int, total: int, seed: int) -> tuple[Any, Any]:
    """Arrow tables of `n` events and their fact rows, the `index`-th slice of the period."""
    import numpy as np
    import pyarrow as pa  # type: ignore[import-untyped]  # no stubs; a dependency of chdb

    rng = np.random.default_rng(seed + index)
    span_ms = DAYS * 86_400_000
    first = index * n * span_ms // total
    start_ms = int(START.timestamp() * 1000)
    at_ms = np.sort(start_ms + first + rng.integers(0, max(n * span_ms // total, 1), n))
    kind = rng.choice(3, n, p=[0.70, 0.15, 0.15])  # click, registration, deposit
    brand = rng.integers(0, BRANDS, n)
    affiliate = rng.integers(0, AFFILIATES, n)
    campaign = affiliate * CAMPAIGNS + rng.integers(0, CAMPAIGNS, n)
    currency = rng.integers(0, len(CURRENCIES), n)
    amount = rng.integers(10, 500, n)
    player = rng.integers(0, max(total // 10, 1), n)
    ids = np.char.add(f"e{index}-", np.arange(n).astype(str))
    brand_s = np.char.add("brand-", brand.astype(str))
    aff_s = np.char.add("aff-", affiliate.astype(str))
    camp_s = np.char.add("camp-", campaign.astype(str))
    person = np.char.add(np.char.add(brand_s, ":p"), player.astype(str))
    types = np.array(["click", "registration", "deposit"])[kind]
    cur_s = np.where(kind == 2, np.array(CURRENCIES)[currency], "")
    ts = pa.array(at_ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    events = pa.table({
        "event_id": ids, "event_type": types, "occurred_at": ts, "processed_at": ts,
        "brand_id": brand_s, "source": np.where(kind == 0, "tracker", "crm"),
        "person_id": person, "affiliate_id": aff_s, "campaign_id": camp_s, "currency": cur_s,
        "amount": pa.array(np.where(kind == 2, amount, 0), pa.int32()).cast(pa.decimal128(20, 4)),
        "is_ftd": (kind == 2) & (amount % 3 == 0), "payload": np.full(n, "{}"),
    })
    facts = kind > 0
    retag = facts & (kind == 1) & (rng.random(n) < 0.05)
    day = (at_ms // 86_400_000).astype(np.int32)
    value = _player_value(rng, kind == 2, amount)

    def money(values: Any) -> Any:
        return pa.array(values.astype(np.int32), pa.int32()).cast(pa.decimal128(20, 4))

    def fact_rows(mask: Any, aff: Any, camp: Any, sign: int, version: int) -> Any:
        k = kind[mask]
        return pa.table({
            "person_id": person[mask], "brand_id": brand_s[mask],
            "day": pa.array(day[mask], pa.int32()).cast(pa.date32()),
            "currency": cur_s[mask], "affiliate_id": aff[mask], "campaign_id": camp[mask],
            "registrations": (k == 1).astype(np.uint32),
            "ftds": ((k == 2) & (amount[mask] % 3 == 0)).astype(np.uint32),
            "deposits": (k == 2).astype(np.uint32),
            "deposit_sum": money(np.where(k == 2, amount[mask], 0)),
            **{name: money(v[mask]) if name in MONEY else v[mask].astype(np.uint32)
               for name, v in value.items()},
            "version": np.full(int(mask.sum()), version, np.uint64),
            "sign": np.full(int(mask.sum()), sign, np.int8),
        })

    unattributed = np.full(n, "")
    rows = pa.concat_tables([
        fact_rows(facts, aff_s, camp_s, 1, 1),
        fact_rows(retag, aff_s, camp_s, -1, 1),  # the late re-tag: cancel, then the new row
        fact_rows(retag, unattributed, unattributed, 1, 2),
    ])
    return events, rows


def _player_value(rng: Any, deposit: Any, amount: Any) -> dict[str, Any]:
    """The player's value on a deposit's fact row (zero on the others), whole units: an FTD's
    sum, 10 % declined deposits, 20 % withdrawals, 1 % chargebacks (of the deposit), stakes of
    3 to 12 times the deposit, wins 85 to 99 % of the stakes, 10 % of the stakes on bonus money
    and a bonus cost of a quarter of that (so GGR and NGR are positive but thin, as in a casino)."""
    import numpy as np

    n = len(amount)
    stakes = amount * rng.integers(3, 13, n)
    chargeback = rng.random(n) < 0.01
    withdrawal = rng.random(n) < 0.20
    bonus_stakes = stakes // 10
    value = {
        "ftd_sum": np.where(amount % 3 == 0, amount, 0),
        "declined_deposits": (rng.random(n) < 0.10).astype(np.int64),
        "withdrawals": withdrawal.astype(np.int64),
        "withdrawal_sum": np.where(withdrawal, amount * rng.integers(1, 4, n), 0),
        "chargebacks": chargeback.astype(np.int64),
        "chargeback_sum": np.where(chargeback, amount, 0),
        "stakes": stakes,
        "wins": stakes * rng.integers(85, 100, n) // 100,
        "bonus_stakes": bonus_stakes,
        "bonus_cost": bonus_stakes // 4,
    }
    return {name: np.where(deposit, v, 0).astype(np.int64) for name, v in value.items()}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def funnel_queries(client: Any, last_day: date) -> list[tuple[str, Any]]:
    """The documented reads: the report (all, one brand, last week) and the funnel_daily example."""
    week = last_day - timedelta(days=7)
    return [
        ("report", lambda: query_funnel(client, DB)),
        ("report_brand", lambda: query_funnel(client, DB, brand_id="brand-1")),
        ("report_week", lambda: query_funnel(client, DB, since=week, until=last_day)),
        ("funnel_daily", lambda: client.query(
            "SELECT affiliate_id, sum(clicks), sum(registrations), sum(ftds), sum(deposit_sum), "
            "sum(ggr), sum(ngr) "
            f"FROM {DB}.funnel_daily WHERE day >= {{since:Date}} GROUP BY affiliate_id",
            parameters={"since": week},
        ).result_rows),
    ]


def run_clickhouse_bench(cfg: ClickHouseBenchConfig) -> list[dict[str, Any]]:
    import clickhouse_connect

    workdir = None if cfg.dsn else tempfile.mkdtemp(prefix="clickpath-bench-ch-")
    dsn = cfg.dsn or f"chdb://{workdir}"
    client = clickhouse_connect.get_client(dsn=dsn)
    results = []
    try:
        client.command(f"DROP DATABASE IF EXISTS {DB}")
        apply_migrations(client, DB)
        total, written, fact_total, insert_s = max(cfg.sizes), 0, 0, 0.0
        for size in sorted(cfg.sizes):
            while written < size:
                n = min(cfg.chunk, size - written)
                events, facts = _chunk_tables(written // cfg.chunk, n, total, cfg.seed)
                started = time.perf_counter()
                client.insert_arrow(f"{DB}.events", events)
                client.insert_arrow(f"{DB}.fact_rows", facts)
                insert_s += time.perf_counter() - started
                written, fact_total = written + n, fact_total + facts.num_rows
            last_day = (START + timedelta(days=DAYS * written // total)).date()
            timings: dict[str, list[float]] = {}
            for _ in range(cfg.repeats):
                for name, run in funnel_queries(client, last_day):
                    started = time.perf_counter()
                    run()
                    timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
            every = [t for ts in timings.values() for t in ts]
            agg_rows = client.query(f"SELECT count() FROM {DB}.funnel_agg").result_rows[0][0]
            result = {
                "bench": "clickhouse", "rows": written, "fact_rows": fact_total,
                "funnel_p95_ms": round(_percentile(every, 0.95), 1),
                "insert_rows_per_s": round((written + fact_total) / insert_s),
                "query_p95_ms": {k: round(_percentile(v, 0.95), 1) for k, v in timings.items()},
                "funnel_agg_rows": int(agg_rows), "dsn": "chdb" if workdir else "server",
                "machine": machine(), "commit": commit(),
            }
            record_result(cfg.results_file, result)
            results.append(result)
            print(json.dumps({k: result[k] for k in ("rows", "funnel_p95_ms", "insert_rows_per_s")}),
                  flush=True)
    finally:
        client.close()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return results
