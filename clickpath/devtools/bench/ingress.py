"""Ingress benchmark: the HTTP doors driven from this process, the service in another.

`clickpath bench-ingress` starts the embedded broker and `clickpath api` (one process, as in
production), then
- event API: `concurrency` clients POST batches of `batch` events for `seconds`, as fast as
  the service acknowledges them: events/s and request latency p50/p99;
- click tracker: GET a tracking link (a bench affiliate's campaign) at a fixed rate, open
  loop, from a lean driver in its own process (bench/open_loop.py: latency counts from each
  request's scheduled send time): achieved requests/s, p50/p99, and the CPU the service, the
  broker and the driver spent per click.
Every answer is checked (200 with every event accepted; 302 with a click_id); failures are
counted and reported, not hidden. Printed as a table; the last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from clickpath.connectors.keys import KeyStore
from clickpath.devtools.bench import BENCH_MASTER_KEY, BENCH_PSEUDONYM_KEY
from clickpath.devtools.bench.results import DEFAULT_RESULTS_FILE, commit, machine, record_result
from clickpath.devtools.procs import RoleProcess, peak_rss_mib, wait_until
from clickpath.domain.catalogue import AffiliateConfig, CampaignConfig
from clickpath.infra.broker import EmbeddedBroker, free_port
from clickpath.infra.kafka import create_topics
from clickpath.settings import Settings


@dataclass
class IngressBenchConfig:
    seconds: float = 10.0
    batch: int = 500
    concurrency: int = 4
    click_rate: float = 500.0
    results_file: Path | None = DEFAULT_RESULTS_FILE


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def batch_body(batch: int, run: str, n: int) -> bytes:
    """A batch of distinct deposits (event ids unique across the run), as the API takes it."""
    events = [
        {
            "event_type": "deposit", "event_id": f"{run}-{n}-{i}",
            "occurred_at": "2026-11-25T10:00:00Z", "player_id": f"p{(n * batch + i) % 50_000}",
            "transaction_id": f"{run}-tx-{n}-{i}", "amount": "25.00", "currency": "EUR",
        }
        for i in range(batch)
    ]
    return json.dumps({"events": events}).encode()


async def drive_event_api(url: str, key: str, cfg: IngressBenchConfig) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    bodies = iter(range(10**9))
    latencies: list[float] = []
    failures: dict[str, int] = {}
    accepted = 0
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    deadline = time.perf_counter() + cfg.seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while time.perf_counter() < deadline:
            body = batch_body(cfg.batch, run, next(bodies))
            started = time.perf_counter()
            r = await client.post(f"{url}/v1/events", content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if r.status_code == 200:
                accepted += r.json()["accepted"]
            else:
                failures[str(r.status_code)] = failures.get(str(r.status_code), 0) + 1

    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(cfg.concurrency)))
    elapsed = time.perf_counter() - began
    return {
        "events_per_s": round(accepted / elapsed), "requests": len(latencies),
        "batch": cfg.batch, "concurrency": cfg.concurrency, "failures": failures,
        "p50_ms": _ms(percentile(latencies, 50)), "p99_ms": _ms(percentile(latencies, 99)),
    }


def drive_tracker(
    link: str, cfg: IngressBenchConfig, watch: dict[str, int | None]
) -> dict[str, Any]:
    """The open-loop driver (bench/open_loop.py) in its own process, so that its CPU is not
    the benchmark's or the service's; plus the CPU each watched process (the service, the
    broker) spent per answered click while it ran."""
    before = {name: cpu_seconds(pid) for name, pid in watch.items()}
    pressure_before, began = cpu_pressure_us(), time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "clickpath.devtools.bench.open_loop", link,
         "--rate", str(cfg.click_rate), "--seconds", str(cfg.seconds)],
        capture_output=True, text=True, check=False, timeout=cfg.seconds + 120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the open-loop driver failed: {out.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    answered = max(result["requests"], 1)
    waited = _minus(cpu_pressure_us(), pressure_before)
    result["cpu_pressure_pct"] = (
        None if waited is None else round(waited / 1e4 / (time.monotonic() - began), 1)
    )
    for name, pid in watch.items():
        spent = _minus(cpu_seconds(pid), before[name])
        result[f"{name}_cpu_ms_per_click"] = None if spent is None else round(spent * 1000 / answered, 3)
    result["driver"] = "clickpath.devtools.bench.open_loop (own process, raw asyncio keep-alive)"
    return result


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU seconds a live process has used so far (None if unknown or gone)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_pressure_us() -> float | None:
    """Linux's CPU pressure ("some" total, in microseconds): how long at least one runnable
    task waited for a core. Its share of the phase says how busy the machine was besides
    what was measured (other processes on the two cores show up as queueing, not CPU)."""
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some "):
                return float(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def run_ingress_bench(cfg: IngressBenchConfig, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    workdir = Path(tempfile.mkdtemp(prefix="clickpath-bench-ingress-"))
    with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
        settings = bench_settings(workdir, broker.bootstrap, cfg)
        create_topics(settings)
        _, key = KeyStore(settings.key_store_path).create("operator", brand_id="bench")
        service = RoleProcess(settings, "api", log_dir=workdir).start()
        try:
            wait_until(lambda: _healthy(settings.service_url), 60, "the HTTP service")
            console.print(f"[bold]event API[/]: {cfg.concurrency} clients, batches of {cfg.batch}…")
            events = asyncio.run(drive_event_api(settings.service_url, key, cfg))
            console.print(f"  {events}")
            console.print(f"[bold]click tracker[/]: {cfg.click_rate:g} requests/s…")
            watch = {"service": service.proc.pid if service.proc else None, "broker": broker.pid}
            clicks = drive_tracker(tracking_link(settings), cfg, watch)
            console.print(f"  {clicks}")
            rss = peak_rss_mib(service.proc.pid) if service.proc else None
            broker_rss = peak_rss_mib(broker.pid) if broker.pid else None
        finally:
            service.stop()
    result = {
        "kind": "ingress", "at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "commit": commit(), "machine": machine(), "event_api": events, "tracker": clicks,
        "service_peak_rss_mib": rss, "broker_peak_rss_mib": broker_rss,
    }
    print_table(console, result)
    record_result(cfg.results_file, result)
    return result


BENCH_CODE = "benchlink"

# The doors' limits, out of the way: the benchmark measures the pipeline, not the limiter (all
# its clicks come from one address). The bot screen is left to run (its cost is measured) but
# its rate never trips.
UNLIMITED: dict[str, Any] = {
    "api_rate_per_s": 10**9, "api_rate_burst": 10**9,
    "tracker_rate_per_s": 10**9, "tracker_rate_burst": 10**9,
    "collect_rate_per_s": 10**9, "collect_rate_burst": 10**9,
    "postback_rate_per_s": 10**9, "postback_rate_burst": 10**9,
    "bot_click_rate_per_s": 10**9, "bot_click_burst": 10**9,
}


def bench_settings(workdir: Path, bootstrap: str, cfg: IngressBenchConfig) -> Settings:
    return Settings(
        kafka_bootstrap_servers=bootstrap, broker_compat="tansu",
        data_dir=workdir / "data", http_port=free_port(), log_level="warning",
        pseudonym_key=BENCH_PSEUDONYM_KEY, master_key=BENCH_MASTER_KEY, api_max_batch=max(cfg.batch, 1000),
        http_max_body_bytes=max(2 * 1024 * 1024, cfg.batch * 1024),
        affiliates=bench_affiliates(), **UNLIMITED,
    )


def bench_affiliates() -> dict[str, AffiliateConfig]:
    """One affiliate with a campaign and its tracking code, for the tracker phase."""
    campaign = CampaignConfig(
        brand_id="bench", tracking_code=BENCH_CODE,
        landing_url="https://casino.example/welcome?cid={click_id}&s1={sub1}",
    )
    return {"aff-bench": AffiliateConfig(name="Bench", campaigns={"camp-bench": campaign})}


def tracking_link(settings: Settings) -> str:
    return f"{settings.service_url}/c/{BENCH_CODE}?sub1=bench"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def print_table(console: Console, r: dict[str, Any]) -> None:
    table = Table(title=f"clickpath ingress bench — {r['commit']} on {r['machine']['cpus']} CPUs")
    table.add_column("measure")
    table.add_column("value")
    table.add_column("target")
    e = r["event_api"]
    table.add_row(f"event API, batches of {e['batch']}, {e['concurrency']} clients",
                  f"{e['events_per_s']:,} events/s ({e['requests']} requests, failures {e['failures'] or 0})",
                  "≥ 5,000 events/s")
    table.add_row("  request latency p50 / p99", f"{e['p50_ms']} / {e['p99_ms']} ms", "")
    c = r["tracker"]
    if c:
        table.add_row(f"click redirect at {c['offered_per_s']:g} requests/s",
                      f"{c['achieved_per_s']:,} requests/s, failures {c['failures'] or 0}", "")
        table.add_row("  latency p50 / p99 / p99.9 (from scheduled send)",
                      f"{c['p50_ms']} / {c['p99_ms']} / {c['p999_ms']} ms", "p99 < 20 ms")
        table.add_row("  CPU per click: service / broker / driver",
                      f"{c['service_cpu_ms_per_click']} / {c['broker_cpu_ms_per_click']}"
                      f" / {c['driver_cpu_ms_per_request']} ms", "")
        table.add_row("  CPU pressure (time some task waited for a core)",
                      f"{_fmt(c['cpu_pressure_pct'])} %", "noise if high")
    table.add_row("peak RSS: service / broker",
                  f"{_fmt(r['service_peak_rss_mib'])} / {_fmt(r['broker_peak_rss_mib'])} MiB", "")
    console.print(table)
    print(json.dumps({
        "event_api_events_per_s": e["events_per_s"], "event_api_p99_ms": e["p99_ms"],
        "click_p50_ms": c["p50_ms"] if c else None, "click_p99_ms": c["p99_ms"] if c else None,
        "click_achieved_per_s": c["achieved_per_s"] if c else None,
        "click_service_cpu_ms": c["service_cpu_ms_per_click"] if c else None,
    }))


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"
