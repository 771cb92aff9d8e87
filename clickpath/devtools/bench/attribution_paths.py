"""The attribution report end to end: paths read from ClickHouse, then every model (`--clickhouse`).

Fills an embedded chdb, migrated with the shipped DDL, with the rows the ClickHouse sink writes
for registered persons and their clicks (001_funnel.sql: the clicks' canonical `events`;
013/014: `identity_touchpoints`, the TouchpointLinks the identity stage sends for them) and with
each person's profile (005_players.sql: `player_profile_rows`, through its view into
`players_agg`), by bulk Arrow inserts. Then times, as `clickpath report attribution` runs it,
`query_paths` (by affiliate, value NGR, 30-day lookback) and `attribute(paths, MODELS)`, for the FTD and the
registration, and checks that every model credits exactly the converted paths and their value,
and that these are the generated ones.

Synthetic data: 4 brands; each person has a device id and 1-4 clicks (40/30/20/10 %) over 40
affiliates with a Zipf-like skew (a third of next clicks on the same affiliate) in the 30 days
before registering, the last one named by the registration; ~30 % make an FTD (likelier with a
good last affiliate), days later, with a lifetime NGR in EUR (70 %) or USD. Beside them,
unlinked clicks no registration reaches: 40 % of them on devices with 1-3 clicks hours apart
(one non-converting path per device), the rest without a device id (a path each).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # no stubs; a dependency of chdb
import pyarrow.compute as pc  # type: ignore[import-untyped]

from clickpath.devtools.bench.embedded import bench_database, reset_peak
from clickpath.devtools.procs import peak_rss_mib
from clickpath.domain.multitouch import MODELS, Credit, ModelParams, Path, attribute
from clickpath.infra.touchpoints import query_paths

DB = "clickpath_bench_paths"
START_MS = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
HOUR_MS, DAY_MS = 3_600_000, 86_400_000
BRANDS = 4
AFFILIATES = 40
TOUCH_WEIGHTS = (0.4, 0.3, 0.2, 0.1)  # 1-4 clicks per person
LOOKBACK_DAYS = 30
CONVERSIONS: tuple[Literal["ftd", "registration"], ...] = ("ftd", "registration")


@dataclass(frozen=True)
class PathsBenchConfig:
    persons: int = 1_000_000
    unlinked_clicks: int = 1_000_000
    chunk: int = 100_000  # persons (or unlinked clicks) per insert; 250k: fill peak 3.3 GiB, not 2.2
    seed: int = 15
    dsn: str | None = None  # None: a fresh embedded chdb directory, removed afterwards


@dataclass
class Expected:
    """What the generated data must give: paths, conversions and value per conversion."""

    persons: int = 0
    ftds: int = 0
    unlinked_paths: int = 0
    ngr: dict[str, Decimal] = field(default_factory=dict)  # the FTD players' (no one else has money)
    rows: dict[str, int] = field(default_factory=dict)  # rows written per table

    def add_rows(self, table: str, n: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + n


def _ms(values: Any, valid: Any = None) -> Any:
    return pa.array(values, pa.int64(), mask=None if valid is None else ~valid).cast(
        pa.timestamp("ms", tz="UTC")
    )


def _cents(values: Any) -> Any:
    """Integer cents as Decimal(20, 4) amounts, exactly: the 128-bit unscaled values (cents x
    100, little-endian, sign-extended) written straight into the array's buffer."""
    unscaled = np.asarray(values, np.int64) * 100
    words = np.empty((unscaled.size, 2), np.int64)
    words[:, 0], words[:, 1] = unscaled, unscaled >> 63
    return pa.Array.from_buffers(pa.decimal128(20, 4), unscaled.size, [None, pa.py_buffer(words)])


def _click_events(brand: Any, click: Any, clicked: Any, device: Any, aff: Any, camp: Any) -> Any:
    """Canonical click events as the sink stores them: the device id in the payload ('' none)."""
    payload = np.where(device != "", np.char.add(np.char.add('{"device_id":"', device), '"}'), "{}")
    return pa.table(
        {
            "event_id": np.char.add("ev-", click),
            "event_type": np.full(click.size, "click"),
            "occurred_at": clicked,
            "processed_at": clicked,
            "brand_id": brand,
            "source": np.full(click.size, "tracker"),
            "click_id": click,
            "affiliate_id": aff,
            "campaign_id": camp,
            "payload": payload,
        }
    )


def _persons(first: int, n: int, seed: int, expected: Expected) -> dict[str, Any]:
    """Persons first .. first + n - 1: their click events, touchpoints and profiles, one Arrow
    table per table."""
    rng = np.random.default_rng(seed + first)
    skew = 1.0 / (np.arange(AFFILIATES) + 1) ** 1.1
    quality = np.random.default_rng(seed).uniform(0.15, 0.45, AFFILIATES)
    ids = np.arange(first, first + n)
    brand = np.char.add("brand-", (ids % BRANDS).astype(str))
    person = np.char.add(np.char.add(brand, ":p"), ids.astype(str))
    device = np.char.add("dev-p", ids.astype(str))
    reg_ms = START_MS + rng.integers(0, 365 * DAY_MS, n)
    touches = rng.choice(len(TOUCH_WEIGHTS), n, p=TOUCH_WEIGHTS) + 1

    # Back index m: 0 is the last click (the one the registration names), m the m-th before it.
    picks = rng.choice(AFFILIATES, (n, 4), p=skew / skew.sum())
    for j in range(1, 4):  # a third of earlier clicks on the same affiliate as the next one
        same = rng.random(n) < 0.33
        picks[same, j] = picks[same, j - 1]
    back = np.cumsum(
        np.c_[rng.exponential(2 * HOUR_MS, n), rng.exponential(3 * DAY_MS, (n, 3))], axis=1
    ).astype(np.int64)
    back = np.minimum(back, (LOOKBACK_DAYS - 1) * DAY_MS)  # every click inside the window
    who, m = np.nonzero(np.arange(4) < touches[:, None])
    k = who.size
    aff = np.char.add("aff-", np.char.zfill(picks[who, m].astype(str), 2))
    camp = np.char.add(aff, np.char.add("/camp-", rng.integers(0, 3, k).astype(str)))
    click = np.char.add(np.char.add(np.char.add("c", ids[who].astype(str)), "-"), m.astype(str))
    clicked = _ms(reg_ms[who] - back[who, m])
    named = m == 0

    registered = _ms(reg_ms)
    events = _click_events(brand[who], click, clicked, device[who], aff, camp)
    touchpoints = pa.table(
        {
            "brand_id": brand[who],
            "player_id": np.char.add("p", ids[who].astype(str)),
            "account": person[who],
            "click_id": click,
            "affiliate_id": aff,
            "campaign_id": camp,
            "clicked_at": clicked,
            "link": np.where(named, "named_click", "device"),
            "registered_at": _ms(reg_ms[who]),
        }
    )

    # The FTD, likelier with a good last affiliate; NGR at least a cent (a zero is no value).
    ftd = rng.random(n) < quality[picks[:, 0]]
    ftd_ms = reg_ms + rng.exponential(3 * DAY_MS, n).astype(np.int64)
    currency = np.where(rng.random(n) < 0.7, "EUR", "USD")
    ngr_cents = np.maximum(1, (rng.lognormal(3.5, 1.0, n) * 100).astype(np.int64))
    ftd_cents = rng.integers(1_000, 20_000, n)
    deposit_cents = ftd_cents + rng.integers(0, 50_000, n)
    offsets = pa.array(np.r_[0, np.cumsum(ftd)].astype(np.int32))

    def money(cents: Any) -> Any:
        return pa.MapArray.from_arrays(offsets, pa.array(currency[ftd]), _cents(cents[ftd]))

    last_aff = aff[named]
    profiles = pa.table(
        {
            "person_id": person,
            "brand_id": brand,
            "player_id": np.char.add("p", ids.astype(str)),
            "registered_at": registered,
            "first_deposit_at": _ms(ftd_ms, ftd),
            "ftd_amount": pc.if_else(pa.array(ftd), _cents(ftd_cents), pa.scalar(None, pa.decimal128(20, 4))),
            "ftd_currency": np.where(ftd, currency, ""),
            "deposits": ftd.astype(np.uint32),
            "deposit_sum": money(deposit_cents),
            "ngr": money(ngr_cents),
            "tag_status": np.full(n, "attributed"),
            "affiliate_id": last_aff,
            "campaign_id": camp[named],
            "updated_at": _ms(np.maximum(reg_ms, np.where(ftd, ftd_ms, 0))),
            "version": np.ones(n, np.uint64),
        }
    )
    expected.persons += n
    expected.ftds += int(ftd.sum())
    for cur in ("EUR", "USD"):
        cents = int(ngr_cents[ftd & (currency == cur)].sum())
        expected.ngr[cur] = expected.ngr.get(cur, Decimal(0)) + Decimal(cents).scaleb(-2)
    return {"events": events, "identity_touchpoints": touchpoints, "player_profile_rows": profiles}


def _unlinked(first: int, n: int, seed: int, expected: Expected) -> dict[str, Any]:
    """About n clicks no registration reaches: 40 % on devices (1-3 clicks, hours apart), the
    rest without a device id. Each device, and each click without one, is one path."""
    rng = np.random.default_rng(seed + 7_919 + first)
    skew = 1.0 / (np.arange(AFFILIATES) + 1) ** 1.1
    per_device = rng.integers(1, 4, max(1, int(0.4 * n / 2)))
    per_device = per_device[np.cumsum(per_device) <= n]
    devices, on_device = per_device.size, int(per_device.sum())
    alone = n - on_device
    dev_index = np.repeat(np.arange(devices), per_device)
    device = np.r_[np.char.add(f"dev-u{first}-", dev_index.astype(str)), np.full(alone, "")]
    start = START_MS + rng.integers(0, 365 * DAY_MS, devices + alone)
    owner = np.r_[dev_index, devices + np.arange(alone)]
    at = start[owner] + rng.integers(0, 12 * HOUR_MS, n)  # a device's clicks within 12 h
    click = np.char.add(f"u{first}-", np.arange(n).astype(str))
    aff = np.char.add("aff-", np.char.zfill(rng.choice(AFFILIATES, n, p=skew / skew.sum()).astype(str), 2))
    camp = np.char.add(aff, np.char.add("/camp-", rng.integers(0, 3, n).astype(str)))
    brand = np.char.add("brand-", (owner % BRANDS).astype(str))
    expected.unlinked_paths += devices + alone
    return {"events": _click_events(brand, click, _ms(at), device, aff, camp)}


def _chunks(cfg: PathsBenchConfig, expected: Expected) -> Iterator[dict[str, Any]]:
    for first in range(0, cfg.persons, cfg.chunk):
        yield _persons(first, min(cfg.chunk, cfg.persons - first), cfg.seed, expected)
    for first in range(0, cfg.unlinked_clicks, cfg.chunk):
        yield _unlinked(first, min(cfg.chunk, cfg.unlinked_clicks - first), cfg.seed, expected)


def credits_exact(credits: list[Credit], conversions: int, value: dict[str, Decimal]) -> bool:
    """Whether every model's credits add up to exactly `conversions` and `value`."""
    for model in {c.model for c in credits}:
        rows = [c for c in credits if c.model == model]
        if sum(c.conversions for c in rows) != conversions:
            return False
        for cur, total in value.items():
            if sum(c.value.get(cur, Decimal(0)) for c in rows) != total:
                return False
    return True


def _converted(paths: list[Path]) -> tuple[int, dict[str, Decimal]]:
    """The converted paths with a touch, and their value per currency."""
    n, value = 0, dict[str, Decimal]()
    for p in paths:
        if p.converted and p.channels:
            n += 1
            for cur, amount in p.value.items():
                value[cur] = value.get(cur, Decimal(0)) + amount
    return n, value


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_paths_stage(cfg: PathsBenchConfig) -> dict[str, Any]:
    """Fill, then time query_paths and all models per conversion; the stage's figures."""
    expected = Expected()
    out: dict[str, Any] = {"persons": cfg.persons, "unlinked_clicks": cfg.unlinked_clicks}
    with bench_database(cfg.dsn, DB, prefix="clickpath-bench-paths-") as client:
        reset_peak()
        started = time.perf_counter()
        for tables in _chunks(cfg, expected):
            for name, table in tables.items():
                client.insert_arrow(f"{DB}.{name}", table)
                expected.add_rows(name, table.num_rows)
        out["fill_s"] = round(time.perf_counter() - started, 1)
        out["rows_written"] = expected.rows
        out["fill_peak_mib"] = peak_rss_mib(os.getpid())
        reset = reset_peak()
        params = ModelParams()
        steps: dict[str, dict[str, Any]] = {}
        for conversion in CONVERSIONS:
            t0 = time.perf_counter()
            paths = query_paths(
                client, DB, brand_id=None, conversion=conversion, by="affiliate", value="ngr",
                since=None, until=None, lookback_days=LOOKBACK_DAYS,
            )  # fmt: skip
            query_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            credits = attribute(paths, MODELS, params)
            models_s = time.perf_counter() - t0
            converted, value = _converted(paths)
            wanted = expected.ftds if conversion == "ftd" else expected.persons
            wanted_paths = expected.persons + (expected.unlinked_paths if conversion == "registration" else 0)
            steps[conversion] = {
                "paths": len(paths),
                "converted": converted,
                "query_paths_s": round(query_s, 2),
                "models_s": round(models_s, 2),
                "exact_sums": credits_exact(credits, converted, value),
                "as_generated": len(paths) == wanted_paths
                and converted == wanted
                and value == {c: v for c, v in expected.ngr.items() if v},
            }
            del paths, credits
        out["steps"] = steps
        out["report_s"] = round(sum(s["query_paths_s"] + s["models_s"] for s in steps.values()), 2)
        out["query_peak_mib"] = peak_rss_mib(os.getpid()) if reset else None
    # The phase peaks too: resetting VmHWM can lower what getrusage reports afterwards.
    out["peak_rss_mib"] = round(max(_rss_mib(), out["fill_peak_mib"] or 0, out["query_peak_mib"] or 0))
    out["dsn"] = "server" if cfg.dsn else "chdb"
    return out
