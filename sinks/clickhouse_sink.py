"""ClickHouse sink: canonical events, funnel facts, attributions and the delivery log.

Replays are harmless without FINAL on any read: the funnel's materialized views count each
canonical event id and each fact version once, because the sink looks up what ClickHouse
already holds and writes only what is new (sinks/clickhouse_rows.py); facts are written as
the cancel of the live row plus the new one. Player profiles go to `player_profile_rows`,
whose view keeps each person's highest version (`players`), so they need no look-up. Inserts
are column-oriented and batched (at least 10k rows or about a second each). Attributions and
the delivery log stay ReplacingMergeTrees.
With the embedded engine (chdb) this process is the only one that may open the data
directory, so it also answers report queries for the HTTP service over loopback (asking for
the run's `reports_token` and a loopback Host, so that a browser page cannot read it by DNS
rebinding; without a token it will not start, or any local user could read every brand).
Reports and analyst SQL run on engine sessions of their own, never under the lock
that ingestion holds: chdb runs sessions of one engine side by side, so a slow read costs a
core, not the writes. This process must never run an analyst's query under `self.lock`.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import structlog
import uvicorn
from clickhouse_connect.driver.client import Client
from confluent_kafka import Message
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel

from clickpath.contracts.models import (
    Attribution,
    CanonicalEvent,
    DeliveryAttempt,
    PlayerDayFact,
    PlayerProfile,
    Record,
)
from clickpath.contracts.topics import Stage, topics_consumed_by
from clickpath.domain.redact import redact
from clickpath.infra.analyst_run import answer
from clickpath.infra.analyst_sql import QueryRefused
from clickpath.infra.clickhouse import (
    ClickHouseError,
    apply_migrations,
    connect,
    is_unwritable,
    query_funnel,
    query_known_events,
    query_pipeline_stats,
    query_stored_facts,
    repair_funnel,
)
from clickpath.infra.cohorts import repair_cohorts
from clickpath.infra.metrics import CLICKHOUSE_ROWS, observe_event_latency
from clickpath.infra.report_slots import ReportSlots, SlotsBusy
from clickpath.infra.reports import (
    REPORTS_TOKEN_HEADER,
    query_attribution,
    query_cohort_rows,
    query_retention_rows,
)
from clickpath.infra.touchpoints import link_touchpoints
from clickpath.settings import Settings
from clickpath.sinks.base import BatchSink, SinkWriteError, UnwritableError
from clickpath.sinks.clickhouse_rows import (
    FACT_ROW_COLUMNS,
    PROFILE_ROW_COLUMNS,
    columns,
    fact_rows,
    new_events,
    newest_profiles,
    profile_row,
    unwritable_reason,
)

log = structlog.get_logger(__name__)

ANALYST_SLOTS = 2  # analyst queries at once in this process (the service's total, too)
UNNAMED_KEY = "(no key id)"  # a caller that sent none: all such share one key's slot
BUSY_RETRY_AFTER_S = 5
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})

EVENT_COLUMNS = [
    "event_id", "event_type", "occurred_at", "received_at", "processed_at", "brand_id", "source",
    "person_id", "player_id", "click_id", "affiliate_id", "campaign_id", "transaction_id",
    "amount", "currency", "is_ftd", "payload",
]
ATTRIBUTION_COLUMNS = [
    "person_id", "brand_id", "player_id", "click_id", "status", "reason", "affiliate_id",
    "campaign_id", "sub1", "sub2", "sub3", "sub4", "sub5", "clicked_at", "registered_at",
    "decided_at",
]


ATTEMPT_COLUMNS = [
    "job_id", "endpoint_id", "kind", "event", "affiliate_id", "brand_id", "attempt", "status",
    "latency_ms", "outcome", "error", "attempted_at",
]


def attempt_row(a: DeliveryAttempt) -> list[Any]:
    return [
        a.job_id, a.endpoint_id, a.kind, a.event, a.affiliate_id or "", a.brand_id or "",
        a.attempt, a.status, a.latency_ms, a.outcome, a.error or "", a.attempted_at,
    ]


def event_row(e: CanonicalEvent) -> list[Any]:
    return [
        e.event_id, e.event_type, e.occurred_at, e.received_at, e.processed_at, e.brand_id,
        e.source, e.person_id, e.player_id or "", e.click_id or "", e.affiliate_id or "",
        e.campaign_id or "", e.transaction_id or "", e.amount, e.currency or "", e.is_ftd,
        e.payload,
    ]


def attribution_row(a: Attribution) -> list[Any]:
    return [
        "" if getattr(a, c) is None and c not in ("clicked_at",) else getattr(a, c)
        for c in ATTRIBUTION_COLUMNS
    ]


def write_batch(client: Client, db: str, records: Sequence[Record]) -> dict[str, int]:
    """Write a decoded batch, each event id and fact version once, each person's newest
    profile of the batch; the rows per table.

    Safe to call again with the same or overlapping records (a replay, a retry after a
    partial write): what ClickHouse already holds is looked up and left out.
    """
    events = [r for r in records if isinstance(r, CanonicalEvent)]
    facts = [r for r in records if isinstance(r, PlayerDayFact)]
    known = query_known_events(
        client, db, {e.brand_id for e in events}, {e.event_id for e in events}
    )
    stored = query_stored_facts(client, db, {f.person_id for f in facts})
    batches = (
        ("events", EVENT_COLUMNS, [event_row(e) for e in new_events(events, known)]),
        ("fact_rows", FACT_ROW_COLUMNS, fact_rows(facts, stored)[0]),
        ("attributions", ATTRIBUTION_COLUMNS,
         [attribution_row(r) for r in records if isinstance(r, Attribution)]),
        ("delivery_attempts", ATTEMPT_COLUMNS,
         [attempt_row(r) for r in records if isinstance(r, DeliveryAttempt)]),
        ("player_profile_rows", PROFILE_ROW_COLUMNS,
         [profile_row(p) for p in newest_profiles(
             r for r in records if isinstance(r, PlayerProfile))]),
    )
    written = {}
    for table, names, rows in batches:
        if rows:
            client.insert(
                f"{db}.{table}", columns(rows, len(names)), column_names=names,
                column_oriented=True,
            )
            written[table] = len(rows)
    return written


class AnalystBusy(RuntimeError):
    """Every analyst slot of the sink is taken (a 429 over the loopback)."""


class ClickHouseSink(BatchSink):
    stage = "clickhouse"
    topics = topics_consumed_by(Stage.SINK_CLICKHOUSE)
    batch_rows = 10_000
    batch_seconds = 1.0

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.db = settings.clickhouse_database
        self.client = connect(settings)
        self.lock = threading.Lock()  # ingestion's: the writes and the touchpoint links
        # Reports read on a session of their own (one at a time on it), beside the writes.
        self.reader = connect(settings)
        self.read_lock = threading.Lock()
        # Held for as long as the engine runs an analyst's query, whatever the caller does:
        # one per key and per brand, so a key whose call timed out cannot take the other.
        self.analyst_slots = ReportSlots(total=ANALYST_SLOTS, per_brand=1, per_key=1)
        with self.lock:
            applied = apply_migrations(self.client, self.db)
            repaired = repair_funnel(self.client, self.db)
            cohorts_repaired = repair_cohorts(self.client, self.db)
        log.info(
            "clickhouse_ready", dsn=redact(settings.clickhouse_dsn), migrations_applied=applied,
            funnel_rows_repaired=repaired, cohort_rows_repaired=cohorts_repaired,
        )

    def write(self, records: Sequence[tuple[Message, Record]]) -> None:
        try:
            with self.lock:
                written = write_batch(self.client, self.db, [r for _, r in records])
        except Exception as e:  # the driver raises many types; all mean "not written"
            if is_unwritable(e):  # the values: bisected, the rows at fault dead-lettered
                raise UnwritableError(redact(f"ClickHouse refused the values: {e}")) from e
            raise SinkWriteError(redact(f"ClickHouse insert failed: {e}")) from e
        try:
            with self.lock:
                # Right behind the events, every event of the batch (replays too: a crash
                # between the two leaves links to make), at most a batch behind the stream.
                link_touchpoints(
                    self.client, self.db,
                    [r for _, r in records if isinstance(r, CanonicalEvent)],
                    lookback_days=self.settings.attribution_lookback_days,
                    clock_skew_s=self.settings.attribution_clock_skew_s,
                )
        except Exception as e:  # the events are stored: never dead-lettered for a link, retried
            raise SinkWriteError(redact(f"linking touchpoints failed: {e}")) from e
        for table, count in written.items():
            CLICKHOUSE_ROWS.labels(table).inc(count)
        for _, record in records:
            if isinstance(record, CanonicalEvent):  # from receipt (else from processing)
                observe_event_latency("clickhouse", record.received_at or record.processed_at)

    def unwritable(self, record: Record) -> str | None:
        return unwritable_reason(record)

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
        with self.lock:
            self.client.close()


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


def report_app(sink: ClickHouseSink, token: str) -> FastAPI:
    """Loopback-only report endpoint for the HTTP service when ClickHouse is embedded: every
    request must carry `token` (the run's reports_token)."""
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
        rows = sink.funnel(brand_id=brand_id, since=since, until=until, by_day=by_day)
        return [{k: str(v) if isinstance(v, Decimal | date) else v for k, v in r.items()}
                for r in rows]

    @app.get("/reports/stats")
    def stats() -> dict[str, Any]:
        return sink.stats()

    @app.get("/reports/attribution")
    def attribution(
        models: str,
        conversion: Literal["registration", "ftd"] = "registration",
        value: Literal["ngr", "deposits"] = "ngr",
        by: Literal["affiliate", "campaign"] = "affiliate",
        lookback_days: int = 30,
        half_life_days: float = 7.0,
        position_first: Decimal = Decimal("0.4"),
        position_last: Decimal = Decimal("0.4"),
        brand_id: str | None = None,
        since: date | None = Query(default=None),
        until: date | None = Query(default=None),
    ) -> list[dict[str, Any]]:
        return sink.attribution(
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
        return sink.cohorts(brand_id=brand_id, grain=grain, since=since, until=until)

    @app.get("/reports/retention")
    def retention(
        grain: Literal["week", "month"] = "month",
        periods: int = 12,
        brand_id: str | None = None,
        since: date | None = Query(default=None),
        until: date | None = Query(default=None),
    ) -> list[dict[str, Any]]:
        return sink.retention(
            brand_id=brand_id, grain=grain, periods=periods, since=since, until=until
        )

    @app.post("/reports/sql")
    def sql(request: _SqlRequest) -> dict[str, Any]:
        try:
            return sink.sql(request.query, request.brand_id, request.key_id)
        except QueryRefused as e:
            raise HTTPException(400, str(e)) from None
        except AnalystBusy as e:
            raise HTTPException(
                429, str(e), headers={"Retry-After": str(BUSY_RETRY_AFTER_S)}
            ) from None

    return app


def run_clickhouse_sink(settings: Settings) -> None:
    from clickpath.sinks.base import run_sink

    token = report_token(settings)  # before the engine opens: no endpoint without a token
    sink = ClickHouseSink(settings)
    if token is not None and settings.reports_url:
        from urllib.parse import urlparse

        url = urlparse(settings.reports_url)
        server = uvicorn.Server(
            uvicorn.Config(
                report_app(sink, token), host=url.hostname or "127.0.0.1", port=url.port or 8001,
                log_config=None, access_log=False,
            )
        )
        threading.Thread(target=server.run, name="report-server", daemon=True).start()
    run_sink(sink)
