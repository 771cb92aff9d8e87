"""`clickpath bench-statements`: a period's statements over 10,000 affiliates and 1M players,
through the real DDL and the deduplicated view.

Fills `commission_ledger` of an embedded ClickHouse by bulk Arrow inserts with the entries the
commission stage writes for one period: a CPA accrual for about 30 % of the players (1 % of
them over a monthly cap, amount 0), RevShare adjustments per affiliate (positive and negative),
clawbacks of about 2 % of the CPAs, a carry-over for every tenth affiliate, and a thousand
entries re-sent later (same id, a later `recorded_at`), which must count once. Then times
`query_statements` for the period (exact Decimal sums in SQL, each entry id once) and checks
every affiliate's total, CPA count and entry count against the generated ones, to the cent.
Ends with a table and one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from clickpath.devtools.bench.embedded import bench_database, reset_peak
from clickpath.devtools.bench.results import commit, machine, record_result
from clickpath.devtools.procs import peak_rss_mib
from clickpath.infra.ledger import query_statements

DB = "clickpath_bench"
PERIOD = "2026-11"
START = datetime(2026, 11, 1, tzinfo=UTC)
MONTH_MS = 30 * 86_400_000
CURRENCIES = ("EUR", "USD", "GBP")
ADJUSTMENTS = 10  # RevShare adjustments per affiliate
RESENT = 1_000
TARGET_S, TARGET_GIB = 60.0, 4.0


@dataclass(frozen=True)
class StatementsBenchConfig:
    affiliates: int = 10_000
    players: int = 1_000_000
    chunk: int = 100_000
    repeats: int = 3
    dsn: str | None = None  # None: a fresh embedded chdb directory, removed afterwards
    results_file: Path | None = None
    seed: int = 23


def _entries(cfg: StatementsBenchConfig) -> dict[str, Any]:
    """Every generated entry as numpy columns (amounts in integer cents), re-sent ones included."""
    import numpy as np

    rng = np.random.default_rng(cfg.seed)
    players = np.arange(cfg.players)
    p_aff = rng.integers(0, cfg.affiliates, cfg.players)
    cpa = players[rng.random(cfg.players) < 0.3]
    cpa_cents = (50 + p_aff[cpa] % 5 * 25) * 100
    cpa_cents = np.where(rng.random(cpa.size) < 0.01, 0, cpa_cents)  # over the monthly cap
    clawed = cpa[(rng.random(cpa.size) < 0.02) & (cpa_cents > 0)]
    claw_cents = -(50 + p_aff[clawed] % 5 * 25) * 100
    rs_aff = np.repeat(np.arange(cfg.affiliates), ADJUSTMENTS)
    rs_cents = rng.integers(-50_000, 200_000, rs_aff.size)
    co_aff = np.arange(0, cfg.affiliates, 10)
    co_cents = -rng.integers(1, 100_000, co_aff.size)
    kinds = [("accrual", "cpa"), ("accrual", "revshare"), ("clawback", "cpa"), ("carry_over", "revshare")]
    parts = [
        (0, p_aff[cpa], cpa_cents, np.char.add("cpa:p", cpa.astype(str)), cpa),
        (1, rs_aff, rs_cents,
         np.char.add(np.char.add("rs:", rs_aff.astype(str)),
                     np.char.add(":", (np.arange(rs_aff.size) % ADJUSTMENTS).astype(str))),
         np.full(rs_aff.size, -1)),
        (2, p_aff[clawed], claw_cents, np.char.add("cb:p", clawed.astype(str)), clawed),
        (3, co_aff, co_cents, np.char.add("co:", co_aff.astype(str)), np.full(co_aff.size, -1)),
    ]
    kind = np.concatenate([np.full(p[1].size, p[0]) for p in parts])
    cols: dict[str, Any] = {
        "kind": kind,
        "affiliate": np.concatenate([p[1] for p in parts]),
        "cents": np.concatenate([p[2] for p in parts]).astype(np.int64),
        "entry_id": np.concatenate([p[3] for p in parts]),
        "player": np.concatenate([p[4] for p in parts]),
    }
    n = kind.size
    cols["recorded_ms"] = int(START.timestamp() * 1000) + rng.integers(0, MONTH_MS, n)
    again = rng.choice(n, RESENT, replace=False)  # re-sent a day later: the same entry
    cols = {k: np.concatenate([v, v[again]]) for k, v in cols.items()}
    cols["recorded_ms"][n:] += 86_400_000
    cols["kinds"] = kinds
    return cols


def _expected(cols: dict[str, Any], affiliates: int) -> dict[str, Any]:
    """Per affiliate: total cents, CPA count and entries of the unique entries."""
    import numpy as np

    unique = slice(0, cols["kind"].size - RESENT)
    aff, kind, cents = cols["affiliate"][unique], cols["kind"][unique], cols["cents"][unique]
    cpa_count = np.bincount(aff, (kind == 0) & (cents != 0), affiliates) - np.bincount(
        aff, kind == 2, affiliates)
    return {
        "total": np.bincount(aff, cents, affiliates).astype(np.int64),  # exact below 2**53
        "cpa_count": cpa_count.astype(np.int64),
        "entries": np.bincount(aff, minlength=affiliates),
    }


def _arrow(cols: dict[str, Any], rows: slice) -> Any:
    import numpy as np
    import pyarrow as pa  # type: ignore[import-untyped]  # no stubs; a dependency of chdb

    kind = cols["kind"][rows]
    kinds = cols["kinds"]
    aff = cols["affiliate"][rows]
    player = cols["player"][rows]
    n = kind.size
    money = pa.array([Decimal(int(c)).scaleb(-2) for c in cols["cents"][rows]], pa.decimal128(38, 6))
    currency = np.array(CURRENCIES)[aff % len(CURRENCIES)]
    recorded = pa.array(cols["recorded_ms"][rows], pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    token = [None if p < 0 else f"tok-{p}" for p in player]
    caused = pa.array([[f"ev-{e}"] for e in cols["entry_id"][rows]], pa.list_(pa.string()))
    return pa.table({
        "entry_id": cols["entry_id"][rows],
        "affiliate_id": np.char.add("aff-", aff.astype(str)),
        "period": np.full(n, PERIOD),
        "kind": np.array([k for k, _ in kinds])[kind],
        "component": np.array([c for _, c in kinds])[kind],
        "amount": money,
        "currency": currency,
        "original_amount": money,
        "original_currency": currency,
        "fx_rate": pa.array([Decimal(1)] * n, pa.decimal128(38, 6)),
        "plan_id": np.char.add("plan-", (aff % 50).astype(str)),
        "plan_version": np.ones(n, np.int64),
        "player_token": pa.array(token, pa.string()),
        "caused_by": caused,
        "reason": pa.array([None] * n, pa.string()),
        "occurred_at": recorded,
        "recorded_at": recorded,
        "registered_at": pa.array([None] * n, pa.timestamp("ms", tz="UTC")),
    })


def _check(rows: list[dict[str, Any]], expected: dict[str, Any], affiliates: int) -> dict[str, bool]:
    got_total = [Decimal(0)] * affiliates
    got_cpa, got_entries = [0] * affiliates, [0] * affiliates
    for r in rows:
        a = int(r["affiliate_id"].removeprefix("aff-"))
        got_total[a] += Decimal(r["total"])
        got_cpa[a] += r["cpa_count"]
        got_entries[a] += r["entries"]
    return {
        "total": got_total == [Decimal(int(c)).scaleb(-2) for c in expected["total"]],
        "cpa_count": got_cpa == expected["cpa_count"].tolist(),
        "entries": got_entries == expected["entries"].tolist(),
        "one_row_per_affiliate": len(rows) == int((expected["entries"] > 0).sum()),
    }


def run_statements_bench(cfg: StatementsBenchConfig) -> dict[str, Any]:
    cols = _entries(cfg)
    expected = _expected(cols, cfg.affiliates)
    entries = int(cols["kind"].size)
    with bench_database(cfg.dsn, DB, prefix="clickpath-bench-statements-") as client:
        reset_peak()
        started = time.perf_counter()
        for first in range(0, entries, cfg.chunk):
            client.insert_arrow(f"{DB}.commission_ledger", _arrow(cols, slice(first, first + cfg.chunk)))
        fill_s = time.perf_counter() - started
        as_of = START + timedelta(days=40)
        timings, rows = [], []
        for _ in range(cfg.repeats):
            t0 = time.perf_counter()
            rows = query_statements(client, DB, period=PERIOD, as_of=as_of)
            timings.append(time.perf_counter() - t0)
        peak = peak_rss_mib(os.getpid())
        exact = _check(rows, expected, cfg.affiliates)
    result: dict[str, Any] = {
        "bench": "statements",
        "affiliates": cfg.affiliates,
        "players": cfg.players,
        "entries": entries,
        "resent": RESENT,
        "rows": len(rows),
        "fill_s": round(fill_s, 1),
        "statements_s": round(statistics.median(timings), 3),
        "statements_max_s": round(max(timings), 3),
        "peak_rss_mib": peak,
        "exact": exact,
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

    table = Table(title=f"clickpath bench-statements — {r['commit']} on {r['machine']['cpus']} CPUs")
    for col in ("measure", "value", "target"):
        table.add_column(col)
    table.add_row("affiliates / players", f"{r['affiliates']:,} / {r['players']:,}", "")
    table.add_row("ledger entries written (re-sent among them)", f"{r['entries']:,} ({r['resent']:,})", "")
    table.add_row("fill (Arrow inserts)", f"{r['fill_s']} s", "")
    table.add_row("statements of the period (median, max)",
                  f"{r['statements_s']} s, {r['statements_max_s']} s ({r['rows']:,} rows)",
                  f"< {TARGET_S:.0f} s")
    table.add_row("peak RSS MiB (chdb in process)", f"{r['peak_rss_mib']:.0f}", f"< {TARGET_GIB * 1024:.0f}")
    table.add_row("exact (totals, CPA counts, entries, rows)",
                  ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r["exact"].items()), "all yes")
    Console().print(table)
    print(json.dumps({
        "affiliates": r["affiliates"], "players": r["players"], "entries": r["entries"],
        "fill_s": r["fill_s"], "statements_s": r["statements_s"],
        "peak_rss_mib": r["peak_rss_mib"], "exact": all(r["exact"].values()),
    }), flush=True)
