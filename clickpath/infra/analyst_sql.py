"""Read-only SQL for analysts: one SELECT over the documented views, scoped to the key's brand.

A query is parsed with sqlglot's ClickHouse dialect and refused (QueryRefused, a message fit to
show the caller) unless it is exactly one SELECT (UNIONs and CTEs allowed) whose every table is
one of ANALYST_VIEWS, unqualified or in the configured database: no table functions, no
`system.` or `information_schema.` tables, no INTO OUTFILE, FORMAT or SETTINGS clause, no
function that reads outside the views (`file`, `dictGet`, `joinGet`, `in(x, table)`...). What
runs is then SQL regenerated from the checked tree, never the caller's text: comments are
dropped, every CTE is renamed (a reference the parser took for a CTE but ClickHouse would not
is an unknown table, not a real one), and for a brand-scoped key every view becomes
`(SELECT * FROM db.view WHERE brand_id = {analyst_brand:String})` with the brand bound as a
parameter from the key, never from the query.

ClickHouse guards again: the query runs on a client of its own (on chdb, its own session),
set read-only after the limits (LIMITS: run time, result rows, memory), so that nothing in the
query can write, call a table function or change a setting. This module must never run the
caller's text as given, nor return ClickHouse's error text (it may quote paths and the DSN).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from uuid import UUID

import sqlglot
from clickhouse_connect.driver.client import Client
from sqlglot import exp
from sqlglot.errors import SqlglotError

from clickpath.infra.clickhouse import ClickHouseError, connect
from clickpath.settings import Settings

ANALYST_VIEWS: Mapping[str, str] = {
    "funnel_daily": "funnel counts and money per day, brand, affiliate, campaign and currency",
    "players": "one row per player: the newest profile (value, KYC, consents, tag, churn risk)",
    "players_money": "one row per player and currency of the player's money",
    "touchpoints": "one row per person and linked click (affiliate, campaign, sub ids, time)",
    "touchpoint_paths": "one row per person: the ordered clicks, conversion times and value",
    "cohort_ltv": "registration cohorts (UTC) with deposits and NGR at 30, 90 and 365 days",
    "cohort_retention": "registration cohorts (UTC) with the players active in each period",
    "delivery_log": "one row per postback or webhook attempt: endpoint, outcome, status, error",
}
"""The views the SQL route reads, and what each holds (docs/analytics.md lists them)."""

MAX_QUERY_CHARS = 20_000
DIALECT = "clickhouse"
BRAND_PARAMETER = "analyst_brand"
CTE_PREFIX = "analyst_cte_"


@dataclass(frozen=True)
class SqlLimits:
    """What one analyst query may take (ClickHouse settings of its read-only client)."""

    max_rows: int = 10_000
    max_seconds: int = 10
    max_memory_bytes: int = 1 << 30

    def clickhouse_settings(self) -> dict[str, Any]:
        return {
            "max_execution_time": self.max_seconds,
            # `break` stops at a block boundary past the limit: one row more than we return
            # is enough to tell a truncated answer (run_query cuts it to max_rows).
            "max_result_rows": self.max_rows + 1,
            "result_overflow_mode": "break",
            "max_memory_usage": self.max_memory_bytes,
        }


LIMITS = SqlLimits()


class QueryRefused(ValueError):
    """The query is not allowed or ClickHouse refused it; the message is safe to show."""


@dataclass(frozen=True)
class CheckedQuery:
    sql: str  # regenerated from the checked tree
    parameters: dict[str, str]
    views: tuple[str, ...]  # the views it reads, sorted


_STATEMENTS = tuple(
    getattr(exp, name)
    for name in (
        "Insert",
        "Delete",
        "Update",
        "Create",
        "Drop",
        "Alter",
        "Command",
        "Merge",
        "TruncateTable",
        "Set",
        "Use",
        "Transaction",
        "Commit",
        "Rollback",
        "Describe",
        "Into",
        "Kill",
        "Grant",
        "Revoke",
        "Copy",
        "LoadData",
        "Cache",
        "Uncache",
        "Refresh",
        "Pragma",
        "Show",
        "Analyze",
    )
    if hasattr(exp, name)
)
# Functions that read something else than the views (a file, a dictionary, a Join table, a
# table named as an argument), or that only hold the engine (sleep).
_DENIED_FUNCTIONS = frozenset(
    {
        "file",
        "url",
        "s3",
        "remote",
        "input",
        "joinget",
        "joingetornull",
        "hascolumnintable",
        "in",
        "notin",
        "globalin",
        "globalnotin",
        "nullin",
        "notnullin",
        "globalnullin",
        "globalnotnullin",
        "sleep",
        "sleepeachrow",
        "catboostevaluate",
        "modelevaluate",
        "getmacro",
        "hostname",
        "fqdn",
        "getserverport",
        "filesystemavailable",
        "filesystemcapacity",
        "filesystemunreserved",
        # the server's settings, version and identity: nothing an analyst needs
        "getsetting",
        "version",
        "uptime",
        "buildid",
        "currentuser",
        "currentdatabase",
        "current_database",
        "currentprofiles",
        "currentroles",
    }
)
_DENIED_PREFIXES = ("dict",)  # dictGet, dictHas, dictGetOrDefault, ...
_TABLE_ARGS = frozenset({"this", "db", "catalog", "alias"})
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _views_list() -> str:
    return ", ".join(ANALYST_VIEWS)


def _parse(query: str) -> exp.Expr:
    if not query.strip():
        raise QueryRefused("the query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryRefused(f"the query is over {MAX_QUERY_CHARS} characters")
    try:
        statements = [s for s in sqlglot.parse(query, read=DIALECT) if s is not None]
    except SqlglotError as e:
        first = _ANSI.sub("", str(e)).splitlines()[0] if str(e) else type(e).__name__
        raise QueryRefused(f"the query is not valid ClickHouse SQL: {first}") from None
    if len(statements) != 1:
        raise QueryRefused(f"send exactly one SELECT statement (this has {len(statements)})")
    root = statements[0]
    while isinstance(root, exp.Subquery):
        root = root.this
    if not isinstance(root, exp.Select | exp.SetOperation):
        raise QueryRefused("only a SELECT is allowed (UNIONs and WITH included)")
    return root


def _with(node: exp.Expr) -> exp.With | None:
    found = node.args.get("with_") or node.args.get("with")
    return found if isinstance(found, exp.With) else None


def _table_ctes(with_: exp.With) -> Iterator[exp.CTE]:
    for cte in with_.expressions:
        if isinstance(cte, exp.CTE) and not cte.args.get("scalar"):
            yield cte


def _cte_of(table: exp.Table) -> exp.CTE | None:
    """The CTE an unqualified table name refers to, by SQL's scoping: the WITH clauses of the
    queries around it, innermost first; inside a CTE's own body only the CTEs before it."""
    if table.args.get("db") or table.args.get("catalog"):
        return None
    name = table.name
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):
            ctes = list(node.expressions)
            before = next(i for i, cte in enumerate(ctes) if cte is child)
            for cte in reversed(ctes[:before]):
                if cte.alias == name and isinstance(cte, exp.CTE) and not cte.args.get("scalar"):
                    return cte
        elif isinstance(node, exp.Query):
            with_ = _with(node)
            if with_ is not None and child is not with_:
                for cte in _table_ctes(with_):
                    if cte.alias == name:
                        return cte
        child, node = node, node.parent
    return None


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    return node.sql(dialect=DIALECT, comments=False).split("(", 1)[0].strip().strip('`"')


def _names_a_table(node: exp.In) -> bool:
    """Whether ClickHouse would read the right side of IN as a table: a bare name, with or
    without parentheses (`x IN t`, `x IN (db.t)`), not a list, a subquery or a function."""
    if node.args.get("field") is not None:
        return True
    values = node.expressions
    if len(values) != 1:
        return False
    value = values[0]
    while isinstance(value, exp.Paren):
        value = value.this
    return isinstance(value, exp.Column | exp.Identifier | exp.Dot | exp.Table)


def _check_node(node: exp.Expr) -> None:
    """Refuse a node that is not a plain read."""
    if isinstance(node, _STATEMENTS):
        what = "SELECT ... INTO" if isinstance(node, exp.Into) else node.key.upper()
        raise QueryRefused(f"{what} is not allowed: only a SELECT over the analyst views")
    if isinstance(node, exp.Final):
        raise QueryRefused("FINAL is not allowed (the views need none)")
    if isinstance(node, exp.Aliases):
        raise QueryRefused("this expression is not allowed (a function named like a clause?)")
    if isinstance(node, exp.Query):
        for clause in ("settings", "format", "into"):
            if node.args.get(clause):
                raise QueryRefused(f"a {clause.upper()} clause is not allowed")
        with_ = _with(node)
        if with_ is not None and with_.args.get("recursive"):
            raise QueryRefused("WITH RECURSIVE is not allowed")
        if with_ is not None:
            names = [cte.alias for cte in _table_ctes(with_)]
            if len(names) != len(set(names)):
                raise QueryRefused("two WITH tables of the same name")
    if isinstance(node, exp.In) and _names_a_table(node):
        raise QueryRefused("IN <table> is not allowed: write IN (SELECT ... FROM <view>)")
    if isinstance(node, exp.Func):
        name = _function_name(node)
        if name.lower() in _DENIED_FUNCTIONS or name.lower().startswith(_DENIED_PREFIXES):
            raise QueryRefused(f"the function {name}() is not allowed in analyst queries")


def _check_table(table: exp.Table, database: str) -> str | None:
    """The view an allowed table reference reads (None for a CTE); else QueryRefused."""
    if not isinstance(table.this, exp.Identifier):
        head = table.this.sql(dialect=DIALECT, comments=False).split("(", 1)[0]
        raise QueryRefused(f"table functions are not allowed ({head}(...)); read the views")
    extra = sorted(k for k, v in table.args.items() if v and k not in _TABLE_ARGS)
    if extra:
        raise QueryRefused(f"{extra[0].upper()} on a table is not allowed")
    name, db, catalog = table.name, table.args.get("db"), table.args.get("catalog")
    shown = ".".join(p.name for p in (catalog, db) if p is not None) + ("." if db else "") + name
    if catalog is None and db is None and _cte_of(table) is not None:
        return None
    if catalog is not None or (db is not None and db.name != database):
        raise QueryRefused(
            f"table {shown!r} is not one of the analyst views: {_views_list()}"
            f" (unqualified, or in database {database!r})"
        )
    if name not in ANALYST_VIEWS:
        raise QueryRefused(f"table {shown!r} is not one of the analyst views: {_views_list()}")
    return name


def _view_source(view: str, database: str, brand_scoped: bool) -> exp.Expr:
    if not brand_scoped:
        return exp.table_(view, db=database, quoted=True)
    inner = sqlglot.parse_one(
        f"SELECT * FROM `{database}`.`{view}` WHERE brand_id = {{{BRAND_PARAMETER}:String}}",
        read=DIALECT,
    )
    return exp.Subquery(this=inner)


def _rewrite(root: exp.Expr, database: str, brand_id: str | None) -> tuple[str, ...]:
    """Qualify (or brand-filter) every view and rename every CTE, in place; the views read."""
    for node in root.walk():
        _check_node(node)
    targets = [(t, _check_table(t, database)) for t in root.find_all(exp.Table)]
    renamed: dict[int, str] = {}
    for i, defined in enumerate(c for w in root.find_all(exp.With) for c in _table_ctes(w)):
        renamed[id(defined)] = f"{CTE_PREFIX}{i}"
    # Every CTE reference is resolved before any name changes.
    references = [(t, view, _cte_of(t) if view is None else None) for t, view in targets]
    for table, view, cte in references:
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        if cte is not None:
            new: exp.Expr = exp.table_(renamed[id(cte)], quoted=True)
        else:
            assert view is not None
            new = _view_source(view, database, brand_id is not None)
        new.set("alias", alias.copy())
        table.replace(new)
    for w in root.find_all(exp.With):
        for cte in _table_ctes(w):
            cte.set("alias", exp.TableAlias(this=exp.to_identifier(renamed[id(cte)], quoted=True)))
    return tuple(sorted({v for _, v in targets if v is not None}))


def _verify(sql: str, database: str) -> None:
    """The regenerated SQL, parsed again, reads only `db.view` or a renamed CTE."""
    tree = sqlglot.parse_one(sql, read=DIALECT)
    for node in tree.walk():
        _check_node(node)
    for table in tree.find_all(exp.Table):
        db = table.args.get("db")
        qualified = db is not None and db.name == database and table.name in ANALYST_VIEWS
        cte = db is None and table.name.startswith(CTE_PREFIX)
        if not (isinstance(table.this, exp.Identifier) and (qualified or cte)):
            raise QueryRefused("the query could not be made safe to run; simplify it")


def check_query(query: str, database: str, brand_id: str | None) -> CheckedQuery:
    """The SQL to run for `query`: checked, rewritten, scoped to `brand_id` (None: every brand,
    for admin keys); QueryRefused says what is not allowed."""
    root = _parse(query)
    views = _rewrite(root, database, brand_id)
    sql = root.sql(dialect=DIALECT, comments=False)
    _verify(sql, database)
    return CheckedQuery(sql, {BRAND_PARAMETER: brand_id} if brand_id is not None else {}, views)


# ClickHouse error codes a caller can act on, and what to tell them (never the server's text).
_REFUSALS = {
    36: "a function got a bad argument",
    42: "a function got the wrong number of arguments",
    43: "a function got an argument of the wrong type",
    46: "it calls an unknown function",
    47: "it names a column the views it reads do not have",
    53: "it compares or combines values of different types",
    60: "it names a table that does not exist (the views are: " + _views_list() + ")",
    62: "ClickHouse could not parse it",
    159: "it ran longer than allowed",
    164: "it tried to change something; analyst queries are read-only",
    184: "an aggregate is used where it cannot be",
    215: "a column is neither aggregated nor in GROUP BY",
    241: "it needed more memory than allowed",
    386: "values of different types have no common type",
    396: "its result is too large",
    456: "it uses a query parameter that is not set",
}
_CODE = re.compile(r"\bCode:\s*(\d+)")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]{2,})\)")


def refusal(error: BaseException) -> str | None:
    """A safe message for a query ClickHouse refused, or None when ClickHouse failed (an
    unreachable server, a broken connection: the caller's fault is not known)."""
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


def run_query(client: Client, checked: CheckedQuery, limits: SqlLimits = LIMITS) -> dict[str, Any]:
    """Run a checked query: {columns, types, rows (JSON values), truncated}."""
    try:
        result = client.query(checked.sql, parameters=checked.parameters or None)
    except Exception as e:
        message = refusal(e)
        if message is not None:
            raise QueryRefused(message) from None
        raise ClickHouseError(f"analyst query failed: {e}") from e
    rows = result.result_rows
    columns, types = list(result.column_names), [t.name for t in result.column_types]
    if not rows and not columns:  # chdb sends no header with no rows: ask for the header
        try:
            header = client.query(
                f"SELECT * FROM ({checked.sql}) LIMIT 0", parameters=checked.parameters or None
            )
            columns, types = list(header.column_names), [t.name for t in header.column_types]
        except Exception:  # e.g. two columns of one name: the answer stays without a header
            pass
    return {
        "columns": columns,
        "types": types,
        "rows": [[to_json(v) for v in row] for row in rows[: limits.max_rows]],
        "truncated": len(rows) > limits.max_rows,
    }


def analyst_client(settings: Settings, limits: SqlLimits = LIMITS) -> Client:
    """A client of its own for analyst queries (on chdb, its own session: nothing it sets
    reaches the sink's), with the limits set and then read-only, which forbids changing them."""
    client = connect(settings)
    try:
        for name, value in limits.clickhouse_settings().items():
            client.set_client_setting(name, value)
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
    client = analyst_client(settings, limits)
    try:
        return run_query(client, checked, limits)
    finally:
        client.close()
