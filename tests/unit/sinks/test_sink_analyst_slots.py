"""Review 21 item 3: the service frees a key's report slot when its loopback call times out,
while the sink's engine still runs the query. The sink therefore holds a slot of its own per
key and per brand (ANALYST_SLOTS in all) until the query really ends, so one key can never
take both of its slots and shut every brand out."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from clickpath.infra import reports
from clickpath.infra.report_slots import ReportSlots
from clickpath.infra.reports import ReportsBusy
from clickpath.settings import Settings
from clickpath.sinks.clickhouse import reports as clickhouse_reports
from clickpath.sinks.clickhouse.reports import ANALYST_SLOTS, AnalystBusy, ReportReader, report_app
from tests.integration.harness import ServedApp, wait_until

TOKEN = "r" * 43


@pytest.fixture
def slow_sink(monkeypatch):
    """The sink's report reader, whose engine never answers until `release` is set (no
    ClickHouse)."""
    sink = ReportReader.__new__(ReportReader)
    sink.settings = Settings(pseudonym_key="k")
    sink.analyst_slots = ReportSlots(total=ANALYST_SLOTS, per_brand=1, per_key=1)
    release = threading.Event()
    started: list[str] = []

    def engine(_settings: Any, query: str, brand_id: str | None) -> dict[str, Any]:
        started.append(query)
        release.wait(30)
        return {"columns": ["n"], "types": ["UInt8"], "rows": [[1]], "truncated": False,
                "truncated_reason": None}

    monkeypatch.setattr(clickhouse_reports, "answer", engine)
    yield sink, release, started
    release.set()


def test_the_sink_runs_one_query_per_key_and_per_brand(slow_sink) -> None:
    sink, release, started = slow_sink
    first = threading.Thread(target=sink.sql, args=("SELECT 1", "brand-a", "key-1"))
    first.start()
    wait_until(lambda: started == ["SELECT 1"], 10, "the first query to run")
    with pytest.raises(AnalystBusy, match="this key"):
        sink.sql("SELECT 2", "brand-b", "key-1")  # the same key, even for another brand
    with pytest.raises(AnalystBusy, match="brand 'brand-a'"):
        sink.sql("SELECT 3", "brand-a", "key-2")
    unnamed = threading.Thread(target=sink.sql, args=("SELECT 4", "brand-c", None))
    unnamed.start()  # the second slot
    wait_until(lambda: "SELECT 4" in started, 10, "the second query to run")
    with pytest.raises(AnalystBusy, match="this key"):  # callers without a key id: one key
        sink.sql("SELECT 5", "brand-d", None)
    with pytest.raises(AnalystBusy, match=f"runs {ANALYST_SLOTS} analytics reports at once"):
        sink.sql("SELECT 6", "brand-d", "key-3")
    release.set()
    first.join(10)
    unnamed.join(10)
    assert sink.sql("SELECT 7", "brand-a", "key-1")["rows"] == [[1]]


def test_a_key_whose_loopback_call_timed_out_cannot_take_the_other_slot(
    slow_sink, monkeypatch, tmp_path
) -> None:
    sink, release, started = slow_sink
    monkeypatch.setattr(reports, "ANALYTICS_TIMEOUT_S", 0.5)
    with ServedApp(report_app(sink, TOKEN)) as served:  # type: ignore[arg-type]
        settings = Settings(data_dir=tmp_path, pseudonym_key="k", reports_url=served.url,
                            reports_token=SecretStr(TOKEN))
        with pytest.raises(httpx.TimeoutException):  # the service gives up, its slot freed
            reports.analyst_query(settings, "SELECT 1", "brand-a", "key-1")
        assert started == ["SELECT 1"]  # ... while the engine still runs it
        with pytest.raises(ReportsBusy, match="this key") as busy:
            reports.analyst_query(settings, "SELECT 2", "brand-a", "key-1")
        assert busy.value.retry_after > 0
        with pytest.raises(ReportsBusy, match="brand 'brand-a'"):
            reports.analyst_query(settings, "SELECT 3", "brand-a", "key-2")
        assert started == ["SELECT 1"]  # neither reached the engine
        # another brand's analyst still finds the second slot
        other = threading.Thread(
            target=reports.analyst_query, args=(settings, "SELECT 4", "brand-b", "key-3")
        )
        monkeypatch.setattr(reports, "ANALYTICS_TIMEOUT_S", 30.0)
        other.start()
        wait_until(lambda: "SELECT 4" in started, 10, "the other brand's query")
        release.set()
        other.join(30)
        wait_until(lambda: sink.analyst_slots.running == 0, 10, "the slots to be freed")
        assert reports.analyst_query(settings, "SELECT 5", "brand-a", "key-1")["rows"] == [[1]]
