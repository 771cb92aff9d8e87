"""Read-only SQL for analysts, the checking half: one SELECT over the documented views, scoped
to the key's brand (infra/analyst_run.py runs what this module lets through).

A query is parsed with sqlglot's ClickHouse dialect and refused (QueryRefused, a message fit to
show the caller) unless it is exactly one SELECT (UNIONs and CTEs allowed) whose every table is
one of ANALYST_VIEWS, unqualified or in the configured database: no table functions, no
`system.` or `information_schema.` tables, no INTO OUTFILE, FORMAT or SETTINGS clause, and only
the functions infra/analyst_functions.py allows, with the arguments it bounds. `DESCRIBE
[TABLE] <view>` lists a view's columns. What runs is then SQL regenerated from the checked
tree, never the caller's text: comments are dropped, every CTE is renamed (a reference the
parser took for a CTE but ClickHouse would not is an unknown table, not a real one), and for a
brand-scoped key every view becomes `(SELECT * FROM db.view WHERE brand_id =
{analyst_brand:String})` with the brand bound as a parameter from the key, never from the query.

This module must never let the caller's text run as given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from clickpath.infra.analyst_functions import FunctionRefused, check_call, check_frame

ANALYST_VIEWS: Mapping[str, str] = {
    "funnel_daily": "funnel counts and money per day, brand, affiliate, campaign and currency",
    "players": "one row per player: the newest profile (value, KYC, consents, tag, churn risk)",
    "players_money": "one row per player and currency of the player's money",
    "touchpoints": "one row per person and linked click (affiliate, campaign, sub ids, time)",
    "touchpoint_paths": "one row per person: the ordered clicks, conversion times and value",
    "cohort_ltv": "registration cohorts (UTC) with deposits and NGR at 30, 90 and 365 days",
    "cohort_retention": "registration cohorts (UTC) with the players active in each period",
    "delivery_log": "one row per postback or webhook attempt: endpoint, outcome, status, error",
    "ledger_entries": "one row per commission ledger entry (admin keys: the ledger has no brand)",
    "persons": "one row per brand account: its person now (`new` for one never merged)",
    "person_changes": "the merge log: an account's first person (`new`), each merge and unmerge",
    "identity_links_now": "one row per account and account it is linked to now, merged or possible",
    "identity_signals_now": "one row per open multi-account signal: the accounts, score, reasons",
    "identity_touchpoints_now": "one row per account and click the identity graph puts on its path",
}
"""The views the SQL route reads, and what each holds (docs/analytics.md lists them)."""

MAX_QUERY_CHARS = 20_000
MAX_NESTING = 32  # brackets deep: sqlglot recurses per level (50 levels: RecursionError)
DIALECT = "clickhouse"
BRAND_PARAMETER = "analyst_brand"
CTE_PREFIX = "analyst_cte_"


class QueryRefused(ValueError):
    """The query is not allowed or ClickHouse refused it; the message is safe to show."""


@dataclass(frozen=True)
class CheckedQuery:
    sql: str  # regenerated from the checked tree
    parameters: dict[str, str]
    views: tuple[str, ...]  # the views it reads, sorted
    source: str = field(default="", repr=False)  # the caller's text: names quoted back must be in it


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
_TABLE_ARGS = frozenset({"this", "db", "catalog", "alias"})
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def views_list() -> str:
    return ", ".join(ANALYST_VIEWS)


def _nesting(query: str) -> int:
    """How deep the brackets go outside string literals and quoted names (a cheap scan, so
    that a deep query is refused before the recursive parser meets it)."""
    depth = deepest = 0
    quote: str | None = None
    escaped = False
    for char in query:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "'\"`":
            quote = char
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def _parse(query: str) -> exp.Expr:
    if not query.strip():
        raise QueryRefused("the query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryRefused(f"the query is over {MAX_QUERY_CHARS} characters")
    if _nesting(query) > MAX_NESTING:
        raise QueryRefused(f"the query nests brackets more than {MAX_NESTING} deep")
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
    if isinstance(root, exp.Describe):
        return root
    if not isinstance(root, exp.Select | exp.SetOperation):
        raise QueryRefused("only a SELECT (or DESCRIBE <view>) is allowed (UNIONs and WITH included)")
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


def _check_node(node: exp.Expr, aliases: frozenset[str]) -> None:
    """Refuse a node that is not a plain read or calls what infra/analyst_functions.py does
    not allow (`aliases`: the names the query defines)."""
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
    if isinstance(node.parent, exp.Table) and node.arg_key == "this":
        return  # a table function: _check_table refuses it, saying so
    try:
        if isinstance(node, exp.WindowSpec):
            check_frame(node)
        check_call(node, aliases)
    except FunctionRefused as e:
        raise QueryRefused(str(e)) from None


def _aliases(root: exp.Expr) -> frozenset[str]:
    """Every name the query gives a value (`expr AS name`, `WITH expr AS name`): a column of
    such a name may be a value the query built, not one of the views'."""
    names = {a.alias for a in root.find_all(exp.Alias) if a.alias}
    names |= {c.alias for c in root.find_all(exp.CTE) if c.alias}
    return frozenset(names)


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
            f"table {shown!r} is not one of the analyst views: {views_list()}"
            f" (unqualified, or in database {database!r})"
        )
    if name not in ANALYST_VIEWS:
        raise QueryRefused(f"table {shown!r} is not one of the analyst views: {views_list()}")
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
    aliases = _aliases(root)
    for node in root.walk():
        _check_node(node, aliases)
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
    aliases = _aliases(tree)
    for node in tree.walk():
        _check_node(node, aliases)
    for table in tree.find_all(exp.Table):
        db = table.args.get("db")
        qualified = db is not None and db.name == database and table.name in ANALYST_VIEWS
        cte = db is None and table.name.startswith(CTE_PREFIX)
        if not (isinstance(table.this, exp.Identifier) and (qualified or cte)):
            raise QueryRefused("the query could not be made safe to run; simplify it")


def _describe(root: exp.Describe, database: str, query: str) -> CheckedQuery:
    """`DESCRIBE [TABLE] <view>`: the view's columns (no rows, so no brand to scope)."""
    table = root.this
    if root.args.get("kind") not in (None, "TABLE") or not isinstance(table, exp.Table):
        raise QueryRefused(f"DESCRIBE takes one of the analyst views: {views_list()}")
    view = _check_table(table, database)
    if view is None:
        raise QueryRefused(f"DESCRIBE takes one of the analyst views: {views_list()}")
    return CheckedQuery(f"DESCRIBE TABLE `{database}`.`{view}`", {}, (view,), query)


def check_query(query: str, database: str, brand_id: str | None) -> CheckedQuery:
    """The SQL to run for `query`: checked, rewritten, scoped to `brand_id` (None: every brand,
    for admin keys); QueryRefused says what is not allowed."""
    try:
        root = _parse(query)
        if isinstance(root, exp.Describe):
            return _describe(root, database, query)
        views = _rewrite(root, database, brand_id)
        sql = root.sql(dialect=DIALECT, comments=False)
        _verify(sql, database)
    except RecursionError:  # a shape the nesting scan did not see (a long chain of operators)
        raise QueryRefused("the query is nested too deeply; simplify it") from None
    # The brand parameter only where the SQL names it: with parameters and no placeholder,
    # the driver would %-format the text (`SELECT 10 % 3` would fail).
    scoped = brand_id is not None and "{" + BRAND_PARAMETER + ":" in sql
    return CheckedQuery(sql, {BRAND_PARAMETER: brand_id} if scoped and brand_id else {}, views, query)
