"""Read-only SQL for analysts, the running half: a checked query (infra/analyst_sql.py) on a
client of its own, within limits, its answer as JSON.

ClickHouse guards again: the client (on chdb, its own engine session) is set read-only after
the limits (SqlLimits: run time, result rows and bytes, memory, elements a `range` may make),
so that nothing in the query can write, call a table function or change a setting. The answer
is read block by block and cut at `max_answer_bytes` of JSON, so a wide answer is truncated
(and says so) before the service spends its memory on it. This module must never return
ClickHouse's error text (it may quote paths and the DSN): only what `refusal` composes.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from uuid import UUID

import sqlglot
import structlog
from clickhouse_connect.driver.client import Client
from sqlglot import exp
from sqlglot.errors import SqlglotError

from clickpath.infra.analyst_functions import used_as_a_value
from clickpath.infra.analyst_sql import DIALECT, CheckedQuery, QueryRefused, check_query, views_list
from clickpath.infra.clickhouse import ClickHouseError, connect
from clickpath.settings import Settings

log = structlog.get_logger(__name__)
KILL_WAIT_S = 60.0  # how long a killed query may take to leave system.processes

@dataclass(frozen=True)
class SqlLimits:
    """What one analyst query may take (ClickHouse settings of its read-only client)."""

    max_rows: int = 10_000
    max_seconds: int = 10
    max_memory_bytes: int = 512 << 20
    max_answer_bytes: int = 8 << 20  # of JSON values, what the caller receives
    max_range_elements: int = 1_000_000

    def clickhouse_settings(self) -> dict[str, Any]:
        return {
            "max_execution_time": self.max_seconds,
            # `break` stops at a block boundary past the limit: one row more than we return
            # is enough to tell a truncated answer (run_query cuts it to max_rows).
            "max_result_rows": self.max_rows + 1,
            # The bytes in ClickHouse's own form, also at a block boundary past the limit: a
            # backstop, the exact bound is run_query's count of the JSON. 16x, because no
            # value is over 16 times wider in Native than in JSON (a UInt256 0: 32 bytes, `0,`),
            # so ClickHouse never stops before the JSON count does: a cut answer is marked.
            "max_result_bytes": 16 * self.max_answer_bytes,
            "result_overflow_mode": "break",
            "max_memory_usage": self.max_memory_bytes,
            "function_range_max_elements_in_block": self.max_range_elements,
        }


LIMITS = SqlLimits()


# ClickHouse error codes a caller can act on, and what to tell them (never the server's text).
_REFUSALS = {
    36: "a function got a bad argument",
    42: "a function got the wrong number of arguments",
    43: "a function got an argument of the wrong type",
    46: "it calls an unknown function",
    47: "it names a column the views it reads do not have",
    53: "it compares or combines values of different types",
    60: "it names a table that does not exist (the views are: " + views_list() + ")",
    62: "ClickHouse could not parse it",
    69: "a function's argument is out of bounds",
    159: "it ran longer than allowed",
    164: "it tried to change something; analyst queries are read-only",
    184: "an aggregate is used where it cannot be",
    215: "a column is neither aggregated nor in GROUP BY",
    241: "it needed more memory than allowed",
    386: "values of different types have no common type",
    394: "it was cancelled",
    396: "its result is too large",
    456: "it uses a query parameter that is not set",
}
_CODE = re.compile(r"\bCode:\s*(\d+)")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]{2,})\)")
# How ClickHouse quotes the identifier it did not know (26.x and older spellings).
_IDENTIFIER = re.compile(
    r"(?:[Ii]dentifier|Function with name|Missing columns:|Unknown table)\s*`?'?([A-Za-z_][\w.]{0,63})"
)


def refusal(error: BaseException, source: str = "") -> str | None:
    """A safe message for a query ClickHouse refused, or None when ClickHouse failed (an
    unreachable server, a broken connection: the caller's fault is not known). An unknown
    identifier is named only if the caller's own text (`source`) has it: what ClickHouse
    quotes from the rewritten query (the brand filter, renamed CTEs) stays out."""
    text = str(error)
    code = getattr(error, "code", None)
    match = _CODE.search(text)
    if not isinstance(code, int):
        code = int(match.group(1)) if match else None
    if code is None or code in (209, 210, 999):  # SOCKET_TIMEOUT, NETWORK_ERROR, KEEPER
        return None
    names = _NAME.findall(text)
    name = f" ({names[-1]})" if names else ""
    why = _REFUSALS.get(code, "ClickHouse refused it")
    unknown = _IDENTIFIER.search(text) if code in (46, 47, 60) else None
    if unknown and re.search(rf"(?<![\w.]){re.escape(unknown.group(1))}(?![\w])", source):
        why += f": {unknown.group(1)!r}"
    return f"ClickHouse refused the query{name}: {why}"


def to_json(value: Any) -> Any:
    """A result value as JSON carries it: Decimal as a string, times in ISO 8601."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | IPv4Address | IPv6Address):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {str(to_json(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    return str(value)


def _failed(e: Exception, checked: CheckedQuery) -> Exception:
    message = refusal(e, checked.source)
    if message is not None:
        return QueryRefused(message)
    return ClickHouseError(f"analyst query failed: {e}")


def _read(
    client: Client, checked: CheckedQuery, limits: SqlLimits, query_id: str | None
) -> dict[str, Any]:
    """Stream the answer, converting row by row, until max_rows or max_answer_bytes."""
    rows: list[list[Any]] = []
    size, reason = 0, None
    parameters = checked.parameters or None
    if checked.sql.startswith("DESCRIBE "):  # a view's columns: small, and not streamable on chdb
        result = client.query(checked.sql)
        return {
            "columns": list(result.column_names),
            "types": [t.name for t in result.column_types],
            "rows": [[to_json(v) for v in row] for row in result.result_rows],
            "truncated": None,
        }
    named = {"query_id": query_id} if query_id else None
    with client.query_row_block_stream(checked.sql, parameters=parameters, settings=named) as stream:
        columns = list(stream.source.column_names)
        types = [t.name for t in stream.source.column_types]
        for block in stream:
            for row in block:
                if len(rows) == limits.max_rows:
                    reason = f"more than {limits.max_rows} rows"
                    break
                values = [to_json(v) for v in row]
                size += len(json.dumps(values, ensure_ascii=False)) + 1
                if size > limits.max_answer_bytes:
                    reason = f"over {limits.max_answer_bytes} bytes"
                    break
                rows.append(values)
            if reason:
                break  # leaving the stream closes it: ClickHouse stops reading
    return {"columns": columns, "types": types, "rows": rows, "truncated": reason}


def run_query(
    client: Client, checked: CheckedQuery, limits: SqlLimits = LIMITS, query_id: str | None = None
) -> dict[str, Any]:
    """Run a checked query: {columns, types, rows (JSON values), truncated, truncated_reason}."""
    try:
        answer = _read(client, checked, limits, query_id)
    except Exception as e:
        failure = _failed(e, checked)
        if isinstance(failure, QueryRefused):
            raise failure from None
        raise failure from e
    reason = answer.pop("truncated")
    # chdb sends no header with no rows: the header is asked again with LIMIT 0, which reads
    # nothing, unless a subquery used as a value would run again at analysis (twice the cost).
    if not answer["rows"] and not answer["columns"] and not values_from_subqueries(checked.sql):
        try:
            header = client.query(
                f"SELECT * FROM ({checked.sql}) LIMIT 0", parameters=checked.parameters or None
            )
            answer["columns"] = list(header.column_names)
            answer["types"] = [t.name for t in header.column_types]
        except Exception:  # e.g. two columns of one name: the answer stays without a header
            pass
    return {**answer, "truncated": reason is not None, "truncated_reason": reason}


def values_from_subqueries(sql: str) -> bool:
    """Whether ClickHouse would run part of `sql` while it analyses it, before any LIMIT:
    a subquery used as a value (`x / (SELECT ...)`, `WITH (SELECT ...) AS n`), EXISTS, ANY or
    ALL. When unsure (the SQL does not parse), yes."""
    try:
        tree = sqlglot.parse_one(sql, read=DIALECT)
    except SqlglotError:
        return True
    for node in tree.find_all(exp.Subquery, exp.Exists, exp.Any, exp.All):
        if not isinstance(node, exp.Subquery) or used_as_a_value(node):
            return True
    return False


def analyst_client(settings: Settings, limits: SqlLimits = LIMITS) -> Client:
    """A client of its own for analyst queries (on chdb, its own session: nothing it sets
    reaches the sink's), with the limits set and then read-only, which forbids changing them."""
    client = connect(settings)
    try:
        for name, value in limits.clickhouse_settings().items():
            client.set_client_setting(name, value)
        if not settings.clickhouse_embedded:  # a server stops a read whose caller went away
            client.set_client_setting("cancel_http_readonly_queries_on_client_close", 1)
        client.set_client_setting("readonly", 1)
    except Exception as e:
        client.close()
        raise ClickHouseError(f"cannot set up the analyst client: {e}") from e
    return client


def answer(
    settings: Settings, query: str, brand_id: str | None, limits: SqlLimits = LIMITS
) -> dict[str, Any]:
    """Check `query` and run it on a read-only client: the answer, QueryRefused, or
    ClickHouseError when ClickHouse cannot be reached."""
    checked = check_query(query, settings.clickhouse_database, brand_id)
    # On a server the query has an id, so that a failed call (a timeout, a dropped connection)
    # can kill what the server still runs; chdb runs it in this thread, so it has ended here.
    query_id = None if settings.clickhouse_embedded else f"clickpath-analyst-{uuid.uuid4().hex}"
    client = analyst_client(settings, limits)
    try:
        return run_query(client, checked, limits, query_id)
    except ClickHouseError:
        if query_id is not None:
            kill(settings, query_id)
        raise
    finally:
        client.close()


def kill(settings: Settings, query_id: str, wait_s: float = KILL_WAIT_S) -> bool:
    """KILL QUERY `query_id` on the server and wait until it has left system.processes (the
    caller's report slot stays taken meanwhile); whether it has. Never raises: the answer to
    the caller is the failure that led here."""
    try:
        client = connect(settings)
    except Exception as e:
        log.warning("analyst_kill_failed", error_type=type(e).__name__)
        return False
    where = {"query_id": query_id}
    try:
        client.command("KILL QUERY WHERE query_id = {query_id:String} ASYNC", parameters=where)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            left = client.query(
                "SELECT count() FROM system.processes WHERE query_id = {query_id:String}",
                parameters=where,
            ).result_rows[0][0]
            if not left:
                return True
            time.sleep(0.25)  # the server's own pace: a query stops at its next block
        log.warning("analyst_kill_outlived", wait_s=wait_s)
        return False
    except Exception as e:
        log.warning("analyst_kill_failed", error_type=type(e).__name__)
        return False
    finally:
        client.close()
