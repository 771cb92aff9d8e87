"""The ClickHouse sink's report server: report queries for the HTTP service when ClickHouse is
embedded, over loopback.

With the embedded engine (chdb) the sink's process is the only one that may open the data
directory, so the reports are answered there, on a thread beside the writer (process.py). The
endpoint asks for the run's `reports_token` and a loopback Host, so that a browser page cannot
read it by DNS rebinding; without a token it will not start, or any local user could read every
brand. Reports and analyst SQL run on engine sessions of their own, never under the lock that
ingestion holds: chdb runs sessions of one engine side by side, so a slow read costs a core, not
the writes. Nothing here may take the writer's lock.
"""

from __future__ import annotations

import hmac
import threading
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlparse

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel

from clickpath.domain.attribution import DEFAULT_LOOKBACK_DAYS
from clickpath.domain.consent_log import DEFAULT_HISTORY
from clickpath.domain.identity.journey import DEFAULT_TIMELINE
from clickpath.domain.multitouch import (
    DEFAULT_HALF_LIFE_DAYS,
    DEFAULT_POSITION_FIRST,
    DEFAULT_POSITION_LAST,
)
from clickpath.domain.redact import redact
from clickpath.domain.subject_export import DEFAULT_EVENTS
from clickpath.infra.affiliate_players import (
    affiliates_on_hold,
    query_affiliate_deliveries,
    query_affiliate_players,
)
from clickpath.infra.analyst_run import answer
from clickpath.infra.analyst_sql import QueryRefused
from clickpath.infra.clickhouse import (
    ClickHouseError,
    connect,
    query_funnel,
    query_pipeline_stats,
)
from clickpath.infra.closes import held_affiliates
from clickpath.infra.consents import query_consents
from clickpath.infra.erasure_certificates import query_erasure_certificate
from clickpath.infra.journey import journey_for
from clickpath.infra.ledger import query_ledger_entries, query_statements
from clickpath.infra.report_slots import ReportSlots, SlotsBusy
from clickpath.infra.reports import (
    REPORTS_TOKEN_HEADER,
    query_attribution,
    query_cohort_rows,
    query_retention_rows,
)
from clickpath.infra.subject_export import export_for
from clickpath.settings import Settings
from clickpath.sinks.clickhouse.operations import operations_router

ANALYST_SLOTS = 2  # analyst queries at once in this process (the service's total, too)
UNNAMED_KEY = "(no key id)"  # a caller that sent none: all such share one key's slot
BUSY_RETRY_AFTER_S = 5
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


class AnalystBusy(RuntimeError):
    """Every analyst slot of the sink is taken (a 429 over the loopback)."""


class ReportReader:
    """The report queries, on a read session of their own (one query at a time on it), beside
    the writer's; analyst SQL on sessions of its own (infra/analyst_run.py)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = settings.clickhouse_database
        self.reader = connect(settings)
        self.read_lock = threading.Lock()
        # Held for as long as the engine runs an analyst's query, whatever the caller does:
        # one per key and per brand, so a key whose call timed out cannot take the other.
        self.analyst_slots = ReportSlots(total=ANALYST_SLOTS, per_brand=1, per_key=1)

    def funnel(self, **filters: Any) -> list[dict[str, Any]]:
        try:
            with self.read_lock:
                return query_funnel(self.reader, self.db, **filters)
        except Exception as e:
            raise ClickHouseError(redact(f"funnel query failed: {e}")) from e

    def stats(self) -> dict[str, Any]:
        try:
            with self.read_lock:
                return query_pipeline_stats(self.reader, self.db)
        except Exception as e:
            raise ClickHouseError(redact(f"stats query failed: {e}")) from e

    def attribution(self, **filters: Any) -> list[dict[str, Any]]:
        """Attribution credit rows (infra/reports.py query_attribution); the reader's lock is
        held for the paths' read only, not while the models run."""
        filters["clock_skew_s"] = self.settings.attribution_clock_skew_s
        try:
            return query_attribution(self.reader, self.db, lock=self.read_lock, **filters)
        except Exception as e:
            raise ClickHouseError(redact(f"attribution query failed: {e}")) from e

    def cohorts(self, **filters: Any) -> list[dict[str, Any]]:
        """LTV cohort rows, in the brands' zones with the configured CPA (this sink's settings)."""
        try:
            with self.read_lock:
                return query_cohort_rows(self.reader, self.db, self.settings, **filters)
        except Exception as e:
            raise ClickHouseError(redact(f"cohort query failed: {e}")) from e

    def retention(self, **filters: Any) -> list[dict[str, Any]]:
        try:
            with self.read_lock:
                return query_retention_rows(self.reader, self.db, self.settings, **filters)
        except Exception as e:
            raise ClickHouseError(redact(f"retention query failed: {e}")) from e

    def ledger(self, **filters: Any) -> list[dict[str, Any]]:
        try:
            with self.read_lock:
                return query_ledger_entries(self.reader, self.db, **filters)
        except Exception as e:
            raise ClickHouseError(redact(f"ledger query failed: {e}")) from e

    def statements(self, **filters: Any) -> list[dict[str, Any]]:
        try:
            with self.read_lock:
                return query_statements(self.reader, self.db, **filters)
        except Exception as e:
            raise ClickHouseError(redact(f"statements query failed: {e}")) from e

    def affiliate_players(self, **filters: Any) -> dict[str, Any]:
        try:
            with self.read_lock:
                return query_affiliate_players(self.reader, self.db, **filters)
        except ValueError:
            raise
        except Exception as e:
            raise ClickHouseError(redact(f"affiliate players query failed: {e}")) from e

    def affiliate_deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        try:
            with self.read_lock:
                return query_affiliate_deliveries(self.reader, self.db, **filters)
        except ValueError:
            raise
        except Exception as e:
            raise ClickHouseError(redact(f"affiliate deliveries query failed: {e}")) from e

    def journey(self, **filters: Any) -> dict[str, Any] | None:
        """One player's journey (infra/journey.py), the brand's operator from this sink's settings."""
        try:
            with self.read_lock:
                return journey_for(self.reader, self.db, self.settings, **filters)
        except ValueError:
            raise
        except Exception as e:
            raise ClickHouseError(redact(f"journey query failed: {e}")) from e

    def consents(self, **filters: Any) -> dict[str, Any] | None:
        """One player's consent log (infra/consents.py)."""
        try:
            with self.read_lock:
                return query_consents(self.reader, self.db, **filters)
        except ValueError:
            raise
        except Exception as e:
            raise ClickHouseError(redact(f"consents query failed: {e}")) from e

    def export(self, **filters: Any) -> dict[str, Any] | None:
        """One player's subject-access export (infra/subject_export.py)."""
        try:
            with self.read_lock:
                return export_for(self.reader, self.db, self.settings, **filters)
        except ValueError:
            raise
        except Exception as e:
            raise ClickHouseError(redact(f"export query failed: {e}")) from e

    def erasure(self, **filters: Any) -> dict[str, Any] | None:
        """One player's erasure certificate (infra/erasure_certificates.py)."""
        try:
            with self.read_lock:
                return query_erasure_certificate(self.reader, self.db, **filters)
        except Exception as e:
            raise ClickHouseError(redact(f"erasure certificate query failed: {e}")) from e

    def on_hold(self) -> list[str]:
        try:
            with self.read_lock:
                return sorted(affiliates_on_hold(self.reader, self.db))
        except Exception as e:
            raise ClickHouseError(redact(f"on-hold query failed: {e}")) from e

    def sql(self, query: str, brand_id: str | None, key_id: str | None = None) -> dict[str, Any]:
        """An analyst's query (infra/analyst_run.py) on a read-only session of its own, beside
        the writes, never under their lock; AnalystBusy when `key_id` or `brand_id` (None:
        every brand) already runs one, or ANALYST_SLOTS run. The slot is this thread's until
        the engine returns, so a caller that gave up waiting (the service frees its own slot
        then) cannot start another query behind one ClickHouse could not stop."""
        try:
            claim = self.analyst_slots.claim(key_id or UNNAMED_KEY, brand_id)
        except SlotsBusy as e:
            raise AnalystBusy(str(e)) from None
        try:
            return answer(self.settings, query, brand_id)
        finally:
            self.analyst_slots.release(claim)

    def close(self) -> None:
        with self.read_lock:
            self.reader.close()


class _SqlRequest(BaseModel):
    query: str
    brand_id: str | None = None
    key_id: str | None = None  # the service's key: one running query per key here too


def loopback_guard(token: str) -> Any:
    """A dependency refusing what did not come from this run's service: a Host that is not a
    loopback name (a rebinding page sends its own) is a 421, a missing or wrong token 401.
    There is no guard without a token (a ValueError): Host alone lets any local user in."""
    if not token:
        raise ValueError("the report endpoint will not answer without a reports token")
    expected = token.encode()

    def guard(request: Request) -> None:
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() not in LOOPBACK_HOSTS:
            raise HTTPException(421, "this endpoint answers loopback names only")
        given = request.headers.get(REPORTS_TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), expected):
            raise HTTPException(401, "a missing or wrong reports token")

    return guard


def report_token(settings: Settings) -> str | None:
    """The token the report endpoint asks for, None when this sink serves none (a ClickHouse
    server, or no CLICKPATH_REPORTS_URL); a ValueError saying what to set when the endpoint
    is asked for without a token (`clickpath up` makes one per run)."""
    if not (settings.clickhouse_embedded and settings.reports_url):
        return None
    secret = settings.reports_token
    token = secret.get_secret_value() if secret is not None else ""
    if not token:
        raise ValueError(
            "the ClickHouse sink will not serve reports without a token: CLICKPATH_REPORTS_URL"
            " is set but CLICKPATH_REPORTS_TOKEN is not (`clickpath up` makes one per run; run"
            " alone, set it to a long random secret, the same for the api)"
        )
    return token


def report_app(reports: ReportReader, token: str, operations: APIRouter | None = None) -> FastAPI:
    """Loopback-only report endpoint for the HTTP service when ClickHouse is embedded: every
    request must carry `token` (the run's reports_token). `operations`: the commission
    operations' routes (commission_operations)."""
    app = FastAPI(
        title="clickpath ClickHouse sink (internal)",
        dependencies=[Depends(loopback_guard(token))],
        docs_url=None, redoc_url=None, openapi_url=None,
    )

    @app.get("/reports/funnel")
    def funnel(
        brand_id: str | None = None,
        since: date | None = Query(default=None),
        until: date | None = Query(default=None),
        by_day: bool = False,
    ) -> list[dict[str, Any]]:
        rows = reports.funnel(brand_id=brand_id, since=since, until=until, by_day=by_day)
        return [{k: str(v) if isinstance(v, Decimal | date) else v for k, v in r.items()}
                for r in rows]

    @app.get("/reports/stats")
    def stats() -> dict[str, Any]:
        return reports.stats()

    @app.get("/reports/attribution")
    def attribution(
        models: str,
        conversion: Literal["registration", "ftd"] = "registration",
        value: Literal["ngr", "deposits"] = "ngr",
        by: Literal["affiliate", "campaign"] = "affiliate",
        lookback_days: int = DEFAULT_LOOKBACK_DAYS,
        half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
        position_first: Decimal = DEFAULT_POSITION_FIRST,
        position_last: Decimal = DEFAULT_POSITION_LAST,
        brand_id: str | None = None,
        since: date | None = Query(default=None),
        until: date | None = Query(default=None),
    ) -> list[dict[str, Any]]:
        return reports.attribution(
            brand_id=brand_id, models=tuple(models.split(",")), conversion=conversion,
            value=value, by=by, since=since, until=until, lookback_days=lookback_days,
            half_life_days=half_life_days, position_first=position_first,
            position_last=position_last,
        )

    @app.get("/reports/cohorts")
    def cohorts(
        grain: Literal["week", "month"] = "month",
        brand_id: str | None = None,
        since: date | None = Query(default=None),
        until: date | None = Query(default=None),
    ) -> list[dict[str, Any]]:
        return reports.cohorts(brand_id=brand_id, grain=grain, since=since, until=until)

    @app.get("/reports/retention")
    def retention(
        grain: Literal["week", "month"] = "month",
        periods: int = 12,
        brand_id: str | None = None,
        since: date | None = Query(default=None),
        until: date | None = Query(default=None),
    ) -> list[dict[str, Any]]:
        return reports.retention(
            brand_id=brand_id, grain=grain, periods=periods, since=since, until=until
        )

    @app.get("/reports/ledger")
    def ledger(
        affiliate_id: str, period: str, as_of: datetime, for_affiliate: bool = False,
    ) -> list[dict[str, Any]]:
        return reports.ledger(affiliate_id=affiliate_id, period=period, as_of=as_of,
                              for_affiliate=for_affiliate)

    @app.get("/reports/statements")
    def statements(period: str, as_of: datetime) -> list[dict[str, Any]]:
        return reports.statements(period=period, as_of=as_of)

    if operations is not None:
        app.include_router(operations)
    @app.get("/reports/affiliate-players")
    def affiliate_players(
        affiliate_id: str, brand_id: str | None = None, status: str | None = None,
        reason: str | None = None, limit: int = 100, offset: int = 0,
    ) -> dict[str, Any]:
        try:
            return reports.affiliate_players(
                affiliate_id=affiliate_id, brand_id=brand_id, status=status, reason=reason,
                limit=limit, offset=offset,
            )
        except ValueError as e:
            raise HTTPException(400, str(e)) from None

    @app.get("/reports/affiliate-deliveries")
    def affiliate_deliveries(
        affiliate_id: str, brand_id: str | None = None, since: datetime | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        try:
            return reports.affiliate_deliveries(
                affiliate_id=affiliate_id, brand_id=brand_id, since=since, limit=limit
            )
        except ValueError as e:
            raise HTTPException(400, str(e)) from None

    @app.get("/reports/journey")
    def journey(
        brand_id: str, player_id: str, limit: int = DEFAULT_TIMELINE, full: bool = False,
    ) -> dict[str, Any] | None:
        try:
            return reports.journey(brand_id=brand_id, player_id=player_id, limit=limit, full=full)
        except ValueError as e:
            raise HTTPException(400, str(e)) from None

    @app.get("/reports/consents")
    def consents(brand_id: str, player_id: str, limit: int = DEFAULT_HISTORY) -> dict[str, Any] | None:
        try:
            return reports.consents(brand_id=brand_id, player_id=player_id, limit=limit)
        except ValueError as e:
            raise HTTPException(400, str(e)) from None

    @app.get("/reports/export")
    def export(
        brand_id: str, player_id: str, limit: int = DEFAULT_EVENTS, full: bool = False,
    ) -> dict[str, Any] | None:
        try:
            return reports.export(brand_id=brand_id, player_id=player_id, limit=limit, full=full)
        except ValueError as e:
            raise HTTPException(400, str(e)) from None

    @app.get("/reports/erasure")
    def erasure(brand_id: str, player_id: str) -> dict[str, Any] | None:
        return reports.erasure(brand_id=brand_id, player_id=player_id)

    @app.get("/reports/affiliates-on-hold")
    def on_hold() -> list[str]:
        return reports.on_hold()

    @app.post("/reports/sql")
    def sql(request: _SqlRequest) -> dict[str, Any]:
        try:
            return reports.sql(request.query, request.brand_id, request.key_id)
        except QueryRefused as e:
            raise HTTPException(400, str(e)) from None
        except AnalystBusy as e:
            raise HTTPException(
                429, str(e), headers={"Retry-After": str(BUSY_RETRY_AFTER_S)}
            ) from None

    return app


def commission_operations(reports: ReportReader) -> APIRouter:
    """Close, adjust, pay... on the reader's session (sinks/clickhouse/operations.py)."""
    return operations_router(reports.settings, reports.reader, reports.read_lock, held_affiliates)


def serve_reports(reports: ReportReader, token: str, reports_url: str) -> uvicorn.Server:
    """Serve `report_app` at `reports_url` on a daemon thread of this process (it dies with the
    writer's process, which alone may hold the embedded engine); the server, to stop it."""
    url = urlparse(reports_url)
    server = uvicorn.Server(
        uvicorn.Config(
            report_app(reports, token, commission_operations(reports)),
            host=url.hostname or "127.0.0.1", port=url.port or 8001,
            log_config=None, access_log=False,
        )
    )
    threading.Thread(target=server.run, name="report-server", daemon=True).start()
    return server
