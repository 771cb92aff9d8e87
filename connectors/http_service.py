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

from clickpath.clickhouse import connect, query_funnel
from clickpath.metrics import render_metrics
from clickpath.report import summarize
from clickpath.settings import Settings


def funnel_rows(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    """Funnel rows from ClickHouse, through the sink when ClickHouse is embedded."""
    if settings.clickhouse_embedded:
        if not settings.reports_url:
            raise RuntimeError(
                "ClickHouse is embedded (chdb) and no CLICKPATH_REPORTS_URL names the sink "
                "that owns it: run the pipeline with `clickpath up`"
            )
        params = {k: str(v) for k, v in filters.items() if v is not None}
        response = httpx.get(f"{settings.reports_url}/reports/funnel", params=params, timeout=30)
        response.raise_for_status()
        return response.json()
    client = connect(settings)
    try:
        return query_funnel(client, settings.clickhouse_database, **filters)
    finally:
        client.close()


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
