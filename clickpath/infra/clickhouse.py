"""ClickHouse through clickhouse-connect: the client, the versioned DDL, the funnel query, and
the look-ups the ClickHouse sink makes so that it writes each fact version and event once.

The same DDL and queries run on the embedded engine (`chdb:///dir`, one process per directory)
and on a server (`http://host:8123`).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import clickhouse_connect
from clickhouse_connect.driver import exceptions as driver_errors
from clickhouse_connect.driver.client import Client

from clickpath.domain.measures import FACT_MEASURES, FUNNEL_MEASURES, Measure, parse
from clickpath.domain.redact import redact
from clickpath.settings import Settings

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ClickHouseError(RuntimeError):
    """ClickHouse refused or could not be reached; wraps the driver's error.

    The message is redacted (clickpath.domain.redact): a DSN or a driver's text quoting one
    never carries its password into a log or an answer."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


# Server error codes that say "these values cannot be stored", however often they are sent:
# parse and conversion failures, values out of a type's range, overflows. Not the codes a
# schema or query fault gives (TYPE_MISMATCH, UNKNOWN_TABLE...): those would fail every row,
# and must hold the sink back until fixed, not dead-letter the traffic.
UNWRITABLE_CODES = frozenset({
    6,    # CANNOT_PARSE_TEXT
    26,   # CANNOT_PARSE_QUOTED_STRING
    27,   # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    38,   # CANNOT_PARSE_DATE
    41,   # CANNOT_PARSE_DATETIME
    69,   # ARGUMENT_OUT_OF_BOUND
    70,   # CANNOT_CONVERT_TYPE
    72,   # CANNOT_PARSE_NUMBER
    117,  # INCORRECT_DATA
    131,  # TOO_LARGE_STRING_SIZE
    321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    407,  # DECIMAL_OVERFLOW
    691,  # UNKNOWN_ELEMENT_OF_ENUM
})


def is_unwritable(error: BaseException) -> bool:
    """Whether an insert failed for a reason retrying cannot cure (the values), as opposed to
    a passing one (connection refused, server down, timeout, memory, too many parts).

    The driver's DataError is raised while it serialises the values (a date past 2149 does
    not fit ClickHouse's Date); a server error counts when its code is one of UNWRITABLE_CODES.
    Anything unknown counts as passing: back-pressure is the safe default."""
    if isinstance(error, driver_errors.OperationalError):
        return False
    if isinstance(error, driver_errors.DataError | struct.error | OverflowError):
        return True
    code = getattr(error, "code", None)
    if code is None:
        match = re.search(r"\bCode:\s*(\d+)", str(error))
        code = int(match.group(1)) if match else None
    return code in UNWRITABLE_CODES


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


FUNNEL_KEYS = ("brand_id", "affiliate_id", "campaign_id", "currency")
FUNNEL_COLUMNS = (*FUNNEL_KEYS, *(m.name for m in FUNNEL_MEASURES))
"""The columns of a `query_funnel` row."""


def _any_nonzero(names: Sequence[str]) -> str:
    return " OR ".join(f"{name} != 0" for name in names)


def _zero_sql(measure: Measure) -> str:
    return "toDecimal128(0, 4)" if measure.money else "toInt64(0)"


def _signed_sum_sql(measure: Measure) -> str:
    """The sign-weighted sum of a fact measure, in its funnel_agg type (as funnel_facts_mv)."""
    if measure.money:
        return f"toDecimal128(sum(sign * {measure.name}), 4)"
    return f"sum(sign * toInt64({measure.name}))"


def query_funnel(
    client: Client,
    database: str,
    brand_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
    by_day: bool = False,
) -> list[dict[str, Any]]:
    """Funnel rows by brand, affiliate, campaign and currency (currency '' has clicks and
    registrations), with every measure of FUNNEL_MEASURES (counts as int, money as Decimal);
    `by_day` splits them by day too (each row then has `day`), for conversion at each day's
    FX rate.

    Reads the summed aggregates (`funnel_agg`, kept by materialized views), never FINAL: the
    sums are exact whether or not ClickHouse has merged them yet. Groups a re-tag emptied
    (every sum zero) are left out, as they were never there.
    """
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
    names = [m.name for m in FUNNEL_MEASURES]
    sums = ", ".join(f"sum({name}) AS {name}" for name in names)
    keys = ", ".join(FUNNEL_KEYS) + (", day" if by_day else "")
    sql = (
        f"SELECT {keys}, {sums} "
        f"FROM {database}.funnel_agg WHERE {' AND '.join(where)} "
        f"GROUP BY {keys} "
        f"HAVING {_any_nonzero(names)} "
        f"ORDER BY {keys}"
    )
    rows: Sequence[Sequence[Any]] = client.query(sql, parameters=params).result_rows
    if not by_day:
        return [dict(zip(FUNNEL_COLUMNS, row, strict=True)) for row in rows]
    columns = (*FUNNEL_KEYS, "day", *(m.name for m in FUNNEL_MEASURES))
    return [dict(zip(columns, row, strict=True)) for row in rows]


class StoredFact(NamedTuple):
    """The live row of a fact key: its version, tag, every fact measure (FACT_MEASURES
    order) and the player's registration time, so that its cancel row repeats it exactly."""

    version: int
    affiliate_id: str
    campaign_id: str
    measures: tuple[int | Decimal, ...]
    registered_at: datetime | None = None


def query_stored_facts(
    client: Client, database: str, person_ids: Collection[str]
) -> dict[tuple[str, date, str], StoredFact]:
    """The live (not cancelled) fact row per (person, day, currency) of these players.

    The live row is the newest `sign = 1` row: every newer version is written with the cancel
    of the one it replaces, so no FINAL is needed.
    """
    if not person_ids:
        return {}
    measures = ", ".join(m.name for m in FACT_MEASURES)
    rows = client.query(
        "SELECT person_id, day, currency, "
        f"argMax(tuple(version, affiliate_id, campaign_id, registered_at, {measures}), version) "
        f"FROM {database}.fact_rows WHERE person_id IN {{persons:Array(String)}} AND sign = 1 "
        "GROUP BY person_id, day, currency",
        parameters={"persons": sorted(person_ids)},
    ).result_rows
    return {
        (person, day, currency): StoredFact(
            int(live[0]), str(live[1]), str(live[2]),
            tuple(parse(m, v) for m, v in zip(FACT_MEASURES, live[4:], strict=True)),
            _utc(live[3]),
        )
        for person, day, currency, live in rows
    }


def _utc(value: datetime | None) -> datetime | None:
    """A DateTime64 read back as an aware UTC time (the driver may hand it back naive)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def query_known_events(
    client: Client, database: str, brand_ids: Collection[str], event_ids: Collection[str]
) -> set[str]:
    """Which of these canonical event ids are already written (the click view counts once)."""
    if not event_ids:
        return set()
    rows = client.query(
        f"SELECT event_id FROM {database}.events WHERE brand_id IN {{brands:Array(String)}} "
        "AND event_id IN {ids:Array(String)}",
        parameters={"brands": sorted(brand_ids), "ids": sorted(event_ids)},
    ).result_rows
    return {str(r[0]) for r in rows}


FUNNEL_DIMENSIONS = "brand_id, day, affiliate_id, campaign_id, currency"


def repair_funnel(client: Client, database: str) -> int:
    """Make `funnel_agg` equal to what `fact_rows` and `events` hold; the rows it added.

    The views write their rows just after the table the sink inserts into; a process killed
    between the two leaves the aggregates short of (or, the other way round, ahead of) the
    facts. Run at the sink's start, before it consumes, this adds the difference, for every
    measure of FUNNEL_MEASURES. A full pass, so it costs a scan of both tables once per start.
    """
    names = [m.name for m in FUNNEL_MEASURES]
    # Aliases unlike the column names, so that no sum() is read as the column of that name.
    aliases = [f"m_{name}" for name in names]
    from_facts = ", ".join(
        f"{_zero_sql(m) if m.name == 'clicks' else _signed_sum_sql(m)} AS {a}"
        for m, a in zip(FUNNEL_MEASURES, aliases, strict=True)
    )
    from_clicks = ", ".join(
        "toInt64(uniqExact(event_id))" if m.name == "clicks" else _zero_sql(m)
        for m in FUNNEL_MEASURES
    )
    already = ", ".join(
        f"toDecimal128(-sum({m.name}), 4)" if m.money else f"-sum({m.name})"
        for m in FUNNEL_MEASURES
    )
    expected = (
        f"SELECT {FUNNEL_DIMENSIONS}, {from_facts} "
        f"FROM {database}.fact_rows GROUP BY {FUNNEL_DIMENSIONS} "
        "UNION ALL "
        "SELECT brand_id, toDate(occurred_at) AS day, affiliate_id, campaign_id, '' AS currency, "
        f"{from_clicks} "
        f"FROM {database}.events WHERE event_type = 'click' "
        "GROUP BY brand_id, day, affiliate_id, campaign_id "
        "UNION ALL "
        f"SELECT {FUNNEL_DIMENSIONS}, {already} "
        f"FROM {database}.funnel_agg GROUP BY {FUNNEL_DIMENSIONS}"
    )
    differences = ", ".join(
        f"toDecimal128(sum({a}), 4) AS d_{n}" if m.money else f"sum({a}) AS d_{n}"
        for m, n, a in zip(FUNNEL_MEASURES, names, aliases, strict=True)
    )
    diff = (
        f"SELECT {FUNNEL_DIMENSIONS}, {differences} FROM ({expected}) "
        f"GROUP BY {FUNNEL_DIMENSIONS} HAVING {_any_nonzero([f'd_{n}' for n in names])}"
    )
    count = int(client.query(f"SELECT count() FROM ({diff})").result_rows[0][0])
    if count:
        client.command(
            f"INSERT INTO {database}.funnel_agg ({FUNNEL_DIMENSIONS}, {', '.join(names)}) {diff}"
        )
    return count


def query_pipeline_stats(client: Client, database: str) -> dict[str, Any]:
    """Canonical events by type, and event-time-to-written latency quantiles in milliseconds.

    `written_at` is set by ClickHouse when the row is inserted, so the latency is the time from
    the event to the moment an analyst could see it. The sink writes each event id once, so
    counts need no FINAL.
    """
    by_type: dict[str, int] = dict(
        client.query(
            f"SELECT event_type, count() FROM {database}.events GROUP BY event_type"
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
