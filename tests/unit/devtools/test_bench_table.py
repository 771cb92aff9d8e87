"""The `clickpath bench` table and latency figures: what `make bench` prints."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from clickpath.devtools.bench.latency import latency_not_measured, quantiles_ms
from clickpath.devtools.bench.run import headline
from clickpath.devtools.bench.table import render_table

VERDICT = {"lost": 0, "double_counted": 0, "postbacks_missing": 0, "postbacks_double": 0}


def result(latency: dict, latency_300: dict | None = None) -> dict:
    return {
        "commit": "abc1234", "machine": {"cpus": 2}, "raw_events_per_s": 90_000,
        "passthrough_events_per_s": 20_000, "ratio": 0.4, "broker_peak_rss_mib": 120.4,
        "pipelines": [{"workers": 1, "events_per_s": 8_000, "processed_per_s": 9_000,
                       "cpu_ms_per_1k_events": 1_234, "verdict": VERDICT,
                       "peak_rss_mib": {"worker 0": 210.0, "sink clickhouse": 150.0}}],
        "latency": latency,
        "latency_300": latency_300 or latency,
    }


def text(table) -> str:
    console = Console(file=StringIO(), width=200)
    console.print(table)
    return console.file.getvalue()


def line(out: str, label: str) -> str:
    """The table row that holds `label`."""
    return next(r for r in out.splitlines() if label in r)


def test_quantiles_in_milliseconds() -> None:
    assert quantiles_ms([]) == {"p50": None, "p95": None, "p99": None}
    assert quantiles_ms([7.0]) == {"p50": 7.0, "p95": None, "p99": None}
    q = quantiles_ms([float(v) for v in range(1, 101)])
    assert (q["p50"], q["p95"], q["p99"]) == (50.5, 95.0, 99.0)  # to 0.1 ms


def test_the_table_shows_each_measure_with_its_target() -> None:
    latency = {"rate": 1000, "workers": 1, "processed_ms": {"p50": 5, "p95": 9, "p99": 12},
               "postback_ms": {"p50": 20, "p95": 40, "p99": 80},
               "clickhouse_ms": {"p50": 300, "p95": 600, "p99": 900}, "max_backlog": 42,
               "peak_rss_mib": {}}
    slow = {**latency, "rate": 300, "postback_ms": {"p50": 11, "p95": 17, "p99": 23}}
    out = text(render_table(result(latency, slow)))
    assert "clickpath bench — abc1234 on 2 CPUs" in out
    assert "90,000 ev/s" in out and "20,000 ev/s" in out
    assert "8,000 ev/s (agents 9,000 ev/s); lost 0, double 0, postbacks missing 0" in out
    assert "sink clickhouse 150, worker 0 210" in out
    assert "20 / 40 / 80 ms" in out and "p99 < 250 ms" in out
    assert "300 / 600 / 900 ms" in out and "120 MiB" in out
    assert "1,234" in line(out, "CPU ms per 1,000 events, all processes and broker, 1 worker")
    assert "5 / 9 / 12 ms" in line(out, "latency at 1000 ev/s: produced → processed p50/p95/p99")
    assert "latency at 300 ev/s: produced → processed" in out
    assert [r for r in out.splitlines() if "produced → postback" in r][1].count("11 / 17 / 23 ms")


def test_a_latency_run_that_could_not_catch_up_still_renders_with_its_error() -> None:
    latency = latency_not_measured(5000.0, 1, "timed out after 600s")
    out = text(render_table(result(latency)))
    assert "latency at 5000.0 ev/s" in out
    assert "- / - / - ms" in out and "timed out after 600s" in out


def test_the_last_line_keeps_its_keys_and_adds_the_300_figures_and_cpu() -> None:
    def run(workers: int, rate: int, cpu: int, lost: int) -> dict:
        return {"workers": workers, "events_per_s": rate, "cpu_ms_per_1k_events": cpu,
                "verdict": {**VERDICT, "lost": lost}}

    fast = {"processed_ms": {"p99": 900.0}, "postback_ms": {"p99": 1200.0},
            "clickhouse_ms": {"p99": 1900.0}}
    slow = {"processed_ms": {"p99": 40.0}, "postback_ms": {"p99": 90.0},
            "clickhouse_ms": {"p99": 700.0}}
    line = headline([run(1, 800, 3000, 0), run(2, 1000, 3500, 1)], 2000, fast, slow,
                    single={**run(2, 400, 5000, 0), "verdict": {**VERDICT, "postbacks_double": 2}})
    assert line == {
        "events_per_s": 1000, "events_per_s_single": 400, "ratio": 0.5, "cpu_ms_per_1k_events": 3500,
        "p99_processed_ms": 900.0, "p99_postback_ms": 1200.0, "p99_clickhouse_ms": 1900.0,
        "p99_processed_ms_300": 40.0, "p99_postback_ms_300": 90.0, "p99_clickhouse_ms_300": 700.0,
        "lost": 1, "double_counted": 2,  # the single run's count too
    }
    assert headline([run(1, 800, 3000, 0)], 2000, fast, slow)["events_per_s_single"] is None


def test_the_table_shows_the_one_event_per_record_run() -> None:
    latency = latency_not_measured(1000.0, 1, "")
    r = result(latency)
    r["pipeline_single"] = {"workers": 2, "events_per_s": 1_900, "processed_per_s": 2_100,
                            "verdict": VERDICT}
    row = line(text(render_table(r)), "one event per record, 2 worker(s)")
    assert "1,900 ev/s (agents 2,100 ev/s)" in row and "≥ 2,000 ev/s" in row
    assert "one event per record" not in text(render_table(result(latency)))
