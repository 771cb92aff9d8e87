"""Reading ClickHouse for reports, whoever asks (the HTTP service, the CLI, the benchmark).

With embedded ClickHouse (chdb) only the ClickHouse sink may open the data directory, so
reports are fetched from its loopback endpoint; against a ClickHouse server they are queried
directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import httpx
from clickhouse_connect.driver.client import Client

from clickpath.domain.analytics_rows import credit_rows
from clickpath.domain.attribution import DEFAULT_CLOCK_SKEW_S
from clickpath.domain.multitouch import ModelParams, attribute
from clickpath.infra import analyst_run
from clickpath.infra.affiliate_players import (
    affiliates_on_hold,
    query_affiliate_deliveries,
    query_affiliate_players,
)
from clickpath.infra.analyst_run import to_json
from clickpath.infra.analyst_sql import QueryRefused
from clickpath.infra.clickhouse import connect, query_funnel, query_pipeline_stats
from clickpath.infra.cohorts import query_cohorts, query_retention
from clickpath.infra.consents import query_consents
from clickpath.infra.erasure_certificates import query_erasure_certificate
from clickpath.infra.journey import journey_for
from clickpath.infra.ledger import query_ledger_entries, query_statements
from clickpath.infra.subject_export import export_for
from clickpath.infra.touchpoints import query_paths
from clickpath.settings import Settings

# Attribution and cohorts over a million players take tens of seconds (make bench-attribution).
ANALYTICS_TIMEOUT_S = 300.0
REPORTS_TOKEN_HEADER = "X-Clickpath-Reports-Token"


class ReportsBusy(RuntimeError):
    """The sink that owns the embedded engine is already running its analyst queries: the
    message says so, `retry_after` is in seconds (its 429's Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def loopback_headers(settings: Settings) -> dict[str, str]:
    """The per-run secret the sink's loopback endpoint asks for (set by `up`, never logged)."""
    token = settings.reports_token
    return {REPORTS_TOKEN_HEADER: token.get_secret_value()} if token is not None else {}


def _ask_clickhouse(settings: Settings, path: str, query: Any, *, timeout: float = 30, **params: Any) -> Any:
    """Run `query` on ClickHouse, through the sink that owns it when ClickHouse is embedded."""
    if settings.clickhouse_embedded:
        if not settings.reports_url:
            raise RuntimeError(
                "ClickHouse is embedded (chdb) and no CLICKPATH_REPORTS_URL names the sink "
                "that owns it: run the pipeline with `clickpath up`"
            )
        wire = {
            k: ",".join(v) if isinstance(v, list | tuple) else str(v)
            for k, v in params.items()
            if v is not None
        }
        response = httpx.get(
            f"{settings.reports_url}{path}", params=wire, timeout=timeout,
            headers=loopback_headers(settings),
        )
        response.raise_for_status()
        return response.json()
    client = connect(settings)
    try:
        return query(client, settings.clickhouse_database, **params)
    finally:
        client.close()


def funnel_rows(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    """Funnel rows by brand, affiliate, campaign and currency."""
    rows: list[dict[str, Any]] = _ask_clickhouse(settings, "/reports/funnel", query_funnel, **filters)
    return rows


def clickhouse_stats(settings: Settings) -> dict[str, Any]:
    """Canonical event counts and event-to-visible latency (clickhouse.query_pipeline_stats)."""
    stats: dict[str, Any] = _ask_clickhouse(settings, "/reports/stats", query_pipeline_stats)
    return stats


def query_attribution(
    client: Client,
    db: str,
    *,
    brand_id: str | None,
    models: Sequence[str],
    conversion: Literal["registration", "ftd"],
    value: Literal["ngr", "deposits"],
    by: Literal["affiliate", "campaign"],
    since: date | None,
    until: date | None,
    lookback_days: int,
    half_life_days: float,
    position_first: Decimal,
    position_last: Decimal,
    lock: AbstractContextManager[Any] | None = None,
    clock_skew_s: int = DEFAULT_CLOCK_SKEW_S,
) -> list[dict[str, Any]]:
    """Attribution credit rows (domain/analytics_rows.py) of `models` over the touchpoint paths
    of the conversions in [since, until]. Only the read holds `lock` (the embedded sink's): the
    models run in Python after it, while the sink writes."""
    with lock or nullcontext():
        paths = query_paths(
            client,
            db,
            brand_id=brand_id,
            conversion=conversion,
            by=by,
            value=value,
            since=since,
            until=until,
            lookback_days=lookback_days,
            clock_skew_s=clock_skew_s,
        )
    params = ModelParams(
        half_life_days=half_life_days, position_first=position_first, position_last=position_last
    )
    return credit_rows(attribute(paths, models, params), by=by, conversion=conversion)


def attribution_rows(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    """query_attribution's rows, through the sink that owns ClickHouse when it is embedded."""
    rows: list[dict[str, Any]] = _ask_clickhouse(
        settings, "/reports/attribution", query_attribution, timeout=ANALYTICS_TIMEOUT_S,
        **{"clock_skew_s": settings.attribution_clock_skew_s, **filters},
    )
    return rows


def query_cohort_rows(client: Client, db: str, settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    """LTV cohort rows (infra/cohorts.py) in the brands' zones, with the CPA they accrued."""
    rows = query_cohorts(client, db, time_zones=settings.brand_time_zones, **filters)
    return [to_json(row) for row in rows]


def query_retention_rows(client: Client, db: str, settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    """Retention rows (infra/cohorts.py) in the brands' zones."""
    rows = query_retention(client, db, time_zones=settings.brand_time_zones, **filters)
    return [to_json(row) for row in rows]


def cohort_rows(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = _ask_clickhouse(
        settings,
        "/reports/cohorts",
        lambda client, db, **f: query_cohort_rows(client, db, settings, **f),
        timeout=ANALYTICS_TIMEOUT_S,
        **filters,
    )
    return rows


def retention_rows(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = _ask_clickhouse(
        settings,
        "/reports/retention",
        lambda client, db, **f: query_retention_rows(client, db, settings, **f),
        timeout=ANALYTICS_TIMEOUT_S,
        **filters,
    )
    return rows


def ledger_entries(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    """An affiliate's ledger entries for a period as of a time (infra/ledger.py)."""
    rows: list[dict[str, Any]] = _ask_clickhouse(
        settings, "/reports/ledger", query_ledger_entries, timeout=ANALYTICS_TIMEOUT_S, **filters
    )
    return rows


def statement_rows(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    """A period's statements as of a time (infra/ledger.py)."""
    rows: list[dict[str, Any]] = _ask_clickhouse(
        settings, "/reports/statements", query_statements, timeout=ANALYTICS_TIMEOUT_S, **filters
    )
    return rows


def affiliate_player_rows(settings: Settings, **filters: Any) -> dict[str, Any]:
    """An affiliate's players, their status and reason codes, with totals
    (infra/affiliate_players.py)."""
    rows: dict[str, Any] = _ask_clickhouse(
        settings, "/reports/affiliate-players", query_affiliate_players, **filters
    )
    return rows


def affiliate_delivery_rows(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    """An affiliate's recent postback deliveries (infra/affiliate_players.py)."""
    rows: list[dict[str, Any]] = _ask_clickhouse(
        settings, "/reports/affiliate-deliveries", query_affiliate_deliveries, **filters
    )
    return rows


def journey_of(settings: Settings, **filters: Any) -> dict[str, Any] | None:
    """A player's journey as the key sees it (infra/journey.py), None for a player clickpath
    does not know; through the sink that owns ClickHouse when it is embedded."""
    answer: dict[str, Any] | None = _ask_clickhouse(
        settings, "/reports/journey",
        lambda client, db, **f: journey_for(client, db, settings, **f), **filters,
    )
    return answer


def consents_of(settings: Settings, **filters: Any) -> dict[str, Any] | None:
    """A player's consent log and what holds now (infra/consents.py), None for a player
    clickpath does not know; through the sink that owns ClickHouse when it is embedded."""
    answer: dict[str, Any] | None = _ask_clickhouse(
        settings, "/reports/consents", query_consents, **filters
    )
    return answer


def export_of(settings: Settings, **filters: Any) -> dict[str, Any] | None:
    """A player's subject-access export as the key sees it (infra/subject_export.py), None for
    a player clickpath does not know; through the sink that owns ClickHouse when embedded."""
    answer: dict[str, Any] | None = _ask_clickhouse(
        settings, "/reports/export",
        lambda client, db, **f: export_for(client, db, settings, **f), **filters,
    )
    return answer


def erasure_certificate_of(settings: Settings, **filters: Any) -> dict[str, Any] | None:
    """A player's erasure certificate (infra/erasure_certificates.py), None when it has none
    (yet); through the sink that owns ClickHouse when it is embedded."""
    answer: dict[str, Any] | None = _ask_clickhouse(
        settings, "/reports/erasure", query_erasure_certificate, **filters
    )
    return answer


def on_hold_affiliates(settings: Settings) -> set[str]:
    """`affiliates_on_hold` (infra/affiliate_players.py) wherever ClickHouse is: through the
    sink's loopback when it is embedded."""
    found = _ask_clickhouse(
        settings, "/reports/affiliates-on-hold", lambda client, db: sorted(affiliates_on_hold(client, db))
    )
    return set(found)


def analyst_query(
    settings: Settings, query: str, brand_id: str | None, key_id: str | None = None
) -> dict[str, Any]:
    """An analyst's SQL (infra/analyst_sql.py, analyst_run.py), through the sink that owns
    ClickHouse when it is embedded: the answer, QueryRefused with what is not allowed, or
    ReportsBusy when the sink runs as many analyst queries as it may, or one of this key
    (`key_id`) or brand already."""
    if not settings.clickhouse_embedded:
        return analyst_run.answer(settings, query, brand_id)
    if not settings.reports_url:
        raise RuntimeError(
            "ClickHouse is embedded (chdb) and no CLICKPATH_REPORTS_URL names the sink "
            "that owns it: run the pipeline with `clickpath up`"
        )
    # When this call gives up, the caller's report slot is freed while the engine may still
    # run the query: the sink holds a slot of its own per key and brand until it really ends,
    # and answers 429 to this key or brand meanwhile.
    response = httpx.post(
        f"{settings.reports_url}/reports/sql",
        json={"query": query, "brand_id": brand_id, "key_id": key_id},
        timeout=ANALYTICS_TIMEOUT_S,
        headers=loopback_headers(settings),
    )
    if response.status_code == 400:
        raise QueryRefused(str(response.json().get("detail", "the query was refused")))
    if response.status_code == 429:
        raise ReportsBusy(
            str(response.json().get("detail", "the analyst queries are busy")),
            int(response.headers.get("Retry-After", "5")),
        )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer
