"""`clickpath sink clickhouse`: the writer, its start-up and (embedded ClickHouse) the report
server, in one process, because only one process may open the embedded engine's directory."""

from __future__ import annotations

from clickpath.settings import Settings
from clickpath.sinks.base import run_sink
from clickpath.sinks.clickhouse.reports import ReportReader, report_token, serve_reports
from clickpath.sinks.clickhouse.writer import ClickHouseSink

__all__ = ["report_token", "run_clickhouse_sink"]


def run_clickhouse_sink(settings: Settings) -> None:
    """Migrate and repair, serve reports beside the writer when asked to, then write until
    SIGTERM/SIGINT."""
    token = report_token(settings)  # before the engine opens: no endpoint without a token
    sink = ClickHouseSink(settings)  # the start-up runs here, before any report is answered
    reports = None
    if token is not None and settings.reports_url:
        reports = ReportReader(settings)
        serve_reports(reports, token, settings.reports_url)
    try:
        run_sink(sink)
    finally:
        if reports is not None:
            reports.close()
