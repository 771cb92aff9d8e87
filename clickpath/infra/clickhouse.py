"""ClickHouse through clickhouse-connect: the client, the versioned DDL, and the funnel query.

The same DDL and queries run on the embedded engine (`chdb:///dir`, one process per directory)
and on a server (`http://host:8123`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from clickpath.settings import Settings

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ClickHouseError(RuntimeError):
    """ClickHouse refused or could not be reached; wraps the driver's error."""


def connect(settings: Settings) -> Client:
    if not _IDENT.match(settings.clickhouse_database):
        raise ValueError(f"invalid ClickHouse database name {settings.clickhouse_database!r}")
    dsn = settings.clickhouse_dsn
    try:
        if dsn.startswith("chdb://"):
            Path(dsn.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(dsn=dsn)
    except Exception as e:
        raise ClickHouseError(f"cannot open ClickHouse at {dsn}: {e}") from e


def split_statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def shipped_migrations_dir() -> Path:
    """The versioned DDL installed with clickpath (deploy/clickhouse, package `clickpath.ddl`)."""
    return Path(str(resources.files("clickpath.ddl")))


def apply_migrations(client: Client, database: str, directory: Path | None = None) -> list[str]:
    """Apply every `NNN_*.sql` not yet recorded in `{db}.schema_migrations`, in order."""
    directory = directory or shipped_migrations_dir()
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version String, applied_at DateTime DEFAULT now()) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = {row[0] for row in client.query(
        f"SELECT version FROM {database}.schema_migrations FINAL"
    ).result_rows}
    applied = []
    for path in sorted(directory.glob("*.sql")):
        if path.stem in done:
            continue
        for statement in split_statements(path.read_text()):
            client.command(statement.replace("{db}", database))
        client.insert(f"{database}.schema_migrations", [[path.stem]], column_names=["version"])
        applied.append(path.stem)
    return applied


FUNNEL_COLUMNS = (
    "affiliate_id", "campaign_id", "currency", "clicks", "registrations", "ftds", "deposits",
    "deposit_sum",
)


def query_funnel(
    client: Client,
    database: str,
    brand_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[dict[str, Any]]:
    """Funnel rows by affiliate, campaign and currency (currency '' has clicks/registrations)."""
    where: list[str] = ["1"]
    params: dict[str, Any] = {}
    if brand_id:
        where.append("brand_id = {brand:String}")
        params["brand"] = brand_id
    if since:
        where.append("day >= {since:Date}")
        params["since"] = since
    if until:
        where.append("day <= {until:Date}")
        params["until"] = until
    sql = (
        "SELECT affiliate_id, campaign_id, currency, sum(clicks), sum(registrations), "
        "sum(ftds), sum(deposits), sum(deposit_sum) "
        f"FROM {database}.funnel_daily WHERE {' AND '.join(where)} "
        "GROUP BY affiliate_id, campaign_id, currency "
        "ORDER BY affiliate_id, campaign_id, currency"
    )
    rows: Sequence[Sequence[Any]] = client.query(sql, parameters=params).result_rows
    return [dict(zip(FUNNEL_COLUMNS, row, strict=True)) for row in rows]


def query_pipeline_stats(client: Client, database: str) -> dict[str, Any]:
    """Canonical events by type, and event-time-to-written latency quantiles in milliseconds.

    `written_at` is set by ClickHouse when the row is inserted, so the latency is the time from
    the event to the moment an analyst could see it.
    """
    by_type: dict[str, int] = dict(
        client.query(
            f"SELECT event_type, count() FROM {database}.events FINAL GROUP BY event_type"
        ).result_rows  # type: ignore[arg-type]  # rows of (String, UInt64)
    )
    row = client.query(
        "SELECT count(), quantiles(0.5, 0.95, 0.99)("
        "toFloat64(dateDiff('millisecond', occurred_at, written_at))) "
        f"FROM {database}.events"
    ).result_rows[0]
    p50, p95, p99 = row[1] if row[0] else (None, None, None)
    return {
        "events_by_type": {str(k): int(v) for k, v in by_type.items()},
        "rows_written": int(row[0]),
        "written_latency_ms": {"p50": p50, "p95": p95, "p99": p99},
    }
