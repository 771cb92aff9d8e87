"""The `clickpath bench` result as a table: each measure next to its target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.table import Table


def render_table(r: dict[str, Any]) -> Table:
    table = Table(title=f"clickpath bench — {r['commit']} on {r['machine']['cpus']} CPUs")
    for col in ("measure", "value", "target"):
        table.add_column(col)

    def ms(q: dict[str, Any]) -> str:
        return " / ".join("-" if q.get(k) is None else f"{q[k]:.0f}" for k in ("p50", "p95", "p99"))

    table.add_row("raw confluent-kafka passthrough", f"{r['raw_events_per_s']:,} ev/s", "")
    table.add_row("bare Faust passthrough", f"{r['passthrough_events_per_s']:,} ev/s", "")
    for p in r["pipelines"]:
        v = p["verdict"]
        table.add_row(
            f"pipeline end to end, {p['workers']} worker(s)",
            f"{p['events_per_s']:,} ev/s (agents {p['processed_per_s']:,} ev/s); "
            f"lost {v['lost']}, double {v['double_counted']}, postbacks missing "
            f"{v['postbacks_missing']}",
            "≥ 5,000 ev/s, 0 lost, 0 double",
        )
        mem = ", ".join(f"{k} {v:.0f}" for k, v in sorted(p["peak_rss_mib"].items()))
        table.add_row(f"  peak RSS MiB, {p['workers']} worker(s)", mem, "")
        cpu = p.get("cpu_ms_per_1k_events")
        table.add_row(f"  CPU ms per 1,000 events, all processes and broker, {p['workers']} "
                      "worker(s)", "-" if cpu is None else f"{cpu:,}", "")
    single = r.get("pipeline_single")
    if single:
        v = single["verdict"]
        table.add_row(
            f"same, one event per record, {single['workers']} worker(s)",
            f"{single['events_per_s']:,} ev/s (agents {single['processed_per_s']:,} ev/s); "
            f"lost {v['lost']}, double {v['double_counted']}, postbacks missing "
            f"{v['postbacks_missing']}",
            "≥ 2,000 ev/s (stretch)",
        )
    table.add_row("ratio to bare Faust", f"{r['ratio']}", "≥ 0.6")
    for key in ("latency", "latency_300"):
        if key in r:
            latency_rows(table, r[key], ms)
    table.add_row("broker peak RSS", f"{r['broker_peak_rss_mib'] or 0:.0f} MiB", "")
    return table


def latency_rows(table: Table, lat: dict[str, Any], ms: Callable[[dict[str, Any]], str]) -> None:
    """One live run's rows: each from the moment the event was produced, not its event time."""
    table.add_row(f"latency at {lat['rate']} ev/s: produced → processed p50/p95/p99",
                  f"{ms(lat['processed_ms'])} ms", "")
    table.add_row("  produced → postback delivered", f"{ms(lat['postback_ms'])} ms",
                  "p99 < 250 ms")
    table.add_row("  produced → visible in ClickHouse", f"{ms(lat['clickhouse_ms'])} ms",
                  "p99 < 2,000 ms")
    table.add_row("  max backlog (events)", f"{lat['max_backlog'] or 0:,}", lat.get("error", ""))
