"""Reading ClickHouse for reports, whoever asks (the HTTP service, the CLI, the benchmark).

With embedded ClickHouse (chdb) only the ClickHouse sink may open the data directory, so
reports are fetched from its loopback endpoint; against a ClickHouse server they are queried
directly.
"""

from __future__ import annotations

from typing import Any

import httpx

from clickpath.infra.clickhouse import connect, query_funnel, query_pipeline_stats
from clickpath.settings import Settings


def _ask_clickhouse(settings: Settings, path: str, query: Any, **params: Any) -> Any:
    """Run `query` on ClickHouse, through the sink that owns it when ClickHouse is embedded."""
    if settings.clickhouse_embedded:
        if not settings.reports_url:
            raise RuntimeError(
                "ClickHouse is embedded (chdb) and no CLICKPATH_REPORTS_URL names the sink "
                "that owns it: run the pipeline with `clickpath up`"
            )
        wire = {k: str(v) for k, v in params.items() if v is not None}
        response = httpx.get(f"{settings.reports_url}{path}", params=wire, timeout=30)
        response.raise_for_status()
        return response.json()
    client = connect(settings)
    try:
        return query(client, settings.clickhouse_database, **params)
    finally:
        client.close()


def funnel_rows(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    """Funnel rows by affiliate, campaign and currency."""
    rows: list[dict[str, Any]] = _ask_clickhouse(settings, "/reports/funnel", query_funnel, **filters)
    return rows


def clickhouse_stats(settings: Settings) -> dict[str, Any]:
    """Canonical event counts and event-to-visible latency (clickhouse.query_pipeline_stats)."""
    stats: dict[str, Any] = _ask_clickhouse(settings, "/reports/stats", query_pipeline_stats)
    return stats
