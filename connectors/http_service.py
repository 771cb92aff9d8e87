"""The HTTP service (default 127.0.0.1:8000): health, metrics and reports.

With embedded ClickHouse (chdb) only the ClickHouse sink may open the data directory, so
reports are fetched from its loopback endpoint; against a ClickHouse server they are queried
directly. Ingress endpoints (tracker, event API) join this service in `connectors/`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Response
from fastapi.concurrency import run_in_threadpool

from clickpath.clickhouse import connect, query_funnel, query_pipeline_stats
from clickpath.metrics import render_metrics
from clickpath.report import summarize
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
    return _ask_clickhouse(settings, "/reports/funnel", query_funnel, **filters)


def clickhouse_stats(settings: Settings) -> dict[str, Any]:
    """Canonical event counts and event-to-visible latency (clickhouse.query_pipeline_stats)."""
    return _ask_clickhouse(settings, "/reports/stats", query_pipeline_stats)


def create_service(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="clickpath",
        version="0.1.0",
        description="Affiliate attribution pipeline: health, metrics and reports.",
    )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = render_metrics()
        return Response(content=body, media_type=content_type)

    @app.get("/v1/reports/funnel")
    async def funnel_report(
        brand_id: str | None = None, since: date | None = None, until: date | None = None
    ) -> list[dict[str, Any]]:
        """Funnel KPIs by affiliate and campaign (clicks, registrations, FTDs, deposits)."""
        try:
            rows = await run_in_threadpool(
                funnel_rows, settings, brand_id=brand_id, since=since, until=until
            )
        except (httpx.HTTPError, RuntimeError) as e:
            raise HTTPException(status_code=503, detail=f"ClickHouse not reachable: {e}") from e
        return summarize(rows)

    return app


def run_service(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        create_service(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )
