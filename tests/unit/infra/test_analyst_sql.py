"""The analyst SQL guard (clickpath/infra/analyst_sql.py): one SELECT over the documented views,
every view brand-filtered by a bound parameter, and everything else refused with its reason.

Each refused query is one a caller could send to read another brand, another table, a file or
to change something; each allowed one is checked in the SQL that would run, not only accepted.
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from clickpath.infra.analyst_run import refusal
from clickpath.infra.analyst_sql import (
    ANALYST_VIEWS,
    BRAND_PARAMETER,
    MAX_QUERY_CHARS,
    QueryRefused,
    check_query,
)

DB = "clickpath"
NOT_A_VIEW = "is not one of the analyst views"

REFUSED = [
    # other tables, however they are named
    ("SELECT * FROM events", NOT_A_VIEW),
    ("SELECT * FROM clickpath.events", NOT_A_VIEW),
    ("SELECT * FROM `clickpath`.`events`", NOT_A_VIEW),
    ('SELECT * FROM "clickpath"."fact_rows"', NOT_A_VIEW),
    ("SELECT * FROM system.tables", NOT_A_VIEW),
    ("SELECT * FROM `system`.`tables`", NOT_A_VIEW),
    ("SELECT * FROM SYSTEM.TABLES", NOT_A_VIEW),
    ("SELECT * FROM information_schema.tables", NOT_A_VIEW),
    ("SELECT * FROM otherdb.players", NOT_A_VIEW),
    ("SELECT * FROM a.clickpath.players", NOT_A_VIEW),
    ("select * from PLAYERS", NOT_A_VIEW),  # ClickHouse names are case-sensitive
    ("SELECT * FROM `players `", NOT_A_VIEW),
    ("SELECT * FROM players JOIN events USING (person_id)", NOT_A_VIEW),
    ("SELECT * FROM players, clickpath.attributions", NOT_A_VIEW),
    ("SELECT * FROM players GLOBAL LEFT JOIN fact_rows f ON 1", NOT_A_VIEW),
    # nested: subqueries, scalar subqueries, UNION parts, CTE bodies
    ("SELECT * FROM players WHERE person_id IN (SELECT person_id FROM (SELECT * FROM events))", NOT_A_VIEW),
    ("SELECT (SELECT count() FROM events) FROM players", NOT_A_VIEW),
    ("SELECT 1 FROM players UNION ALL SELECT 1 FROM events", NOT_A_VIEW),
    ("SELECT * FROM players WHERE EXISTS (SELECT 1 FROM system.users)", NOT_A_VIEW),
    ("WITH (SELECT count() FROM events) AS n SELECT n", NOT_A_VIEW),
    # a CTE shadowing a forbidden name reads itself: its body's `events` is the real table
    ("WITH events AS (SELECT * FROM events) SELECT * FROM events", NOT_A_VIEW),
    # a CTE named like a view wrapping a forbidden table
    ("WITH players AS (SELECT * FROM events) SELECT * FROM players", NOT_A_VIEW),
    ("WITH a AS (SELECT * FROM system.tables) SELECT * FROM a", NOT_A_VIEW),
    # a CTE is visible where it is defined, not outside its subquery nor before it
    ("SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) AS y, x", NOT_A_VIEW),
    ("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", NOT_A_VIEW),
    ("WITH RECURSIVE a AS (SELECT 1) SELECT * FROM a", "RECURSIVE"),
    # table functions and functions that read elsewhere
    ("SELECT * FROM file('/etc/passwd')", "table functions"),
    ("SELECT file('/etc/passwd') FROM players", "file()"),
    ("SELECT * FROM numbers(10)", "table functions"),
    ("SELECT * FROM url('http://127.0.0.1/', 'CSV')", "table functions"),
    ("SELECT * FROM remote('127.0.0.1', clickpath.events)", "table functions"),
    ("SELECT * FROM s3('http://x/y.csv')", "table functions"),
    ("SELECT * FROM merge('clickpath', '.*')", "table functions"),
    ("SELECT * FROM view(SELECT * FROM events)", "table functions"),
    ("SELECT * FROM players JOIN generateRandom('a Int8') g ON 1", "table functions"),
    ("SELECT dictGet('brands', 'name', 1) FROM players", "dictGet()"),
    ("SELECT joinGet('clickpath.j', 'v', 1) FROM players", "joinGet()"),
    ("SELECT sleepEachRow(3) FROM players", "sleepEachRow()"),
    ("SELECT getSetting('max_memory_usage')", "getSetting()"),
    ("SELECT version(), uptime() FROM players", "VERSION()"),
    ("SELECT currentDatabase() FROM players", "CURRENT_DATABASE()"),
    ("SELECT hasColumnInTable('clickpath', 'events', 'payload')", "hasColumnInTable()"),
    ("SELECT * FROM players WHERE person_id IN events", "IN <table>"),
    ("SELECT * FROM players WHERE person_id GLOBAL IN clickpath.events", "IN <table>"),
    ("SELECT notIn(person_id, events) FROM players", "notIn()"),
    # ClickHouse reads a parenthesized name on the right of IN as a table too
    ("SELECT * FROM players WHERE person_id IN (events)", "IN <table>"),
    ("SELECT * FROM players WHERE person_id IN (clickpath.events)", "IN <table>"),
    ("SELECT * FROM players WHERE person_id NOT IN ((system.tables))", "IN <table>"),
    ("SELECT * FROM players WHERE (person_id, 1) GLOBAL NOT IN `events`", "IN <table>"),
    # more than one statement, or not a SELECT
    ("SELECT 1; DROP TABLE clickpath.events", "exactly one"),
    ("SELECT 1 FROM players; SELECT 1 FROM players", "exactly one"),
    ("SELECT 1;\nINSERT INTO clickpath.events SELECT * FROM clickpath.events", "exactly one"),
    ("INSERT INTO clickpath.players SELECT * FROM players", "only a SELECT"),
    ("insert into players values (1)", "only a SELECT"),
    ("DROP TABLE players", "only a SELECT"),
    ("ALTER TABLE players DELETE WHERE 1", "only a SELECT"),
    ("TRUNCATE TABLE players", "only a SELECT"),
    ("CREATE TABLE x AS SELECT * FROM players", "only a SELECT"),
    ("SYSTEM DROP DNS CACHE", "only a SELECT"),
    ("EXPLAIN SELECT * FROM events", "only a SELECT"),
    ("SHOW TABLES", "only a SELECT"),
    ("SET readonly = 0", "only a SELECT"),
    ("SELECT 1 INTO x FROM players", "INTO"),
    # clauses that change how ClickHouse runs or writes it
    ("SELECT * FROM players SETTINGS readonly = 0", "SETTINGS"),
    ("SELECT * FROM players SETTINGS max_result_rows = 0, readonly = 2", "SETTINGS"),
    ("SELECT * FROM (SELECT * FROM players SETTINGS max_execution_time = 0)", "SETTINGS"),
    ("SELECT * FROM players FORMAT CSV", "FORMAT"),
    ("SELECT * FROM players INTO OUTFILE '/tmp/x'", "not valid"),
    ("SELECT * FROM players FINAL", "FINAL"),
    ("SELECT * FROM players SAMPLE 0.1", "SAMPLE"),
    # not SQL
    ("", "empty"),
    ("   \n", "empty"),
    ("SELEC 1", "not valid"),
    ("SELECT * FROM players WHERE x = 'unterminated", "not valid"),
    ("SELECT 1 /* unterminated comment", "not valid"),
    ("SELECT " + "1 + " * MAX_QUERY_CHARS + "1", f"over {MAX_QUERY_CHARS}"),
]


@pytest.mark.parametrize(("query", "why"), REFUSED)
def test_refused(query: str, why: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        check_query(query, DB, "brand-a")
    assert why in str(refused.value)
    with pytest.raises(QueryRefused):  # an admin key (no brand) is held to the same views
        check_query(query, DB, None)


def test_the_refusal_names_the_table_and_the_views() -> None:
    with pytest.raises(QueryRefused) as refused:
        check_query("SELECT * FROM players JOIN clickpath.events e ON 1", DB, "b")
    message = str(refused.value)
    assert message.startswith("table 'clickpath.events' is not one of the analyst views: ")
    assert all(view in message for view in ANALYST_VIEWS)


def tables(sql: str) -> list[tuple[str, str]]:
    """(database, name) of every table the SQL that runs reads."""
    tree = sqlglot.parse_one(sql, read="clickhouse")
    return [(t.args["db"].name if t.args.get("db") else "", t.name) for t in tree.find_all(exp.Table)]


def brand_filters(sql: str) -> int:
    """How many `brand_id = {analyst_brand:String}` conditions the SQL carries."""
    tree = sqlglot.parse_one(sql, read="clickhouse")
    return sum(
        1
        for eq in tree.find_all(exp.EQ)
        if isinstance(eq.this, exp.Column)
        and eq.this.name == "brand_id"
        and isinstance(eq.expression, exp.Placeholder)
        and eq.expression.name == BRAND_PARAMETER
    )


ALLOWED = [
    ("SELECT * FROM players", 1),
    ("select count() from Players_money".replace("Players", "players"), 1),
    ("SELECT * FROM `players`", 1),
    ('SELECT * FROM "funnel_daily"', 1),
    ("SELECT * FROM clickpath.players", 1),
    ("SELECT * FROM `clickpath`.`players`", 1),
    ("SELECT p.ngr, f.clicks FROM players AS p JOIN funnel_daily f ON p.affiliate_id = f.affiliate_id", 2),
    (
        "SELECT affiliate_id, sum(clicks) FROM funnel_daily WHERE day >= '2026-01-01' "
        "GROUP BY affiliate_id ORDER BY 2 DESC LIMIT 10",
        1,
    ),
    (
        "SELECT * FROM players WHERE person_id IN (SELECT person_id FROM players_money "
        "WHERE currency = 'EUR')",
        2,
    ),
    ("SELECT 1 FROM players UNION ALL SELECT 2 FROM funnel_daily", 2),
    ("WITH top AS (SELECT affiliate_id FROM funnel_daily) SELECT * FROM top", 1),
    ("WITH players AS (SELECT * FROM players WHERE deposits > 0) SELECT count() FROM players", 1),
    ("WITH events AS (SELECT * FROM players) SELECT * FROM events", 1),
    ("WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT * FROM b", 0),
    ("WITH 10 AS n SELECT * FROM players LIMIT n", 1),
    ("SELECT * FROM players -- a comment: DROP TABLE events\nWHERE deposits > 1", 1),
    ("SELECT /* */ * FROM players /* ; DROP TABLE events; */", 1),
    ("SELECT '; DROP TABLE events; --', 'system.tables', \"person_id\" FROM players", 1),
    ("SELECT * FROM players p ARRAY JOIN mapKeys(p.ngr) AS currency", 1),
    ("SELECT count() FROM players WHERE brand_id = 'brand-b'", 1),  # ANDed with the key's brand
    ("(SELECT count() FROM players)", 1),
    ("SELECT 1;", 0),
    ("SELECT quantile(0.9)(deposits) FROM players", 1),
    ("SELECT * FROM players WHERE kyc_status IN ('verified', 'pending')", 1),
    ("SELECT * FROM players WHERE deposits IN (1)", 1),
    ("SELECT * FROM players WHERE deposits IN (1, sessions)", 1),
]


@pytest.mark.parametrize(("query", "filters"), ALLOWED)
def test_allowed_queries_read_each_view_through_the_keys_brand(query: str, filters: int) -> None:
    checked = check_query(query, DB, "brand-a")
    # bound where a view is read; none otherwise (the driver would %-format the text)
    assert checked.parameters == ({BRAND_PARAMETER: "brand-a"} if filters else {})
    read = tables(checked.sql)
    views = [name for db, name in read if db]
    assert all(db == DB and name in ANALYST_VIEWS for db, name in read if db)
    assert all(name.startswith("analyst_cte_") for db, name in read if not db)  # renamed CTEs
    assert len(views) == filters == brand_filters(checked.sql)
    assert "a comment" not in checked.sql and "/*" not in checked.sql  # comments are dropped


def test_an_admin_query_reads_the_views_qualified_and_unfiltered() -> None:
    checked = check_query("SELECT * FROM players p JOIN funnel_daily USING affiliate_id", DB, None)
    assert checked.parameters == {} and brand_filters(checked.sql) == 0
    assert tables(checked.sql) == [(DB, "players"), (DB, "funnel_daily")]
    assert checked.views == ("funnel_daily", "players")


def test_the_brand_is_bound_never_spliced() -> None:
    """A brand id with quotes (from a key, never from the query) cannot change the SQL."""
    brand = "x' OR 1=1 --"
    checked = check_query("SELECT * FROM players", DB, brand)
    assert brand not in checked.sql and checked.parameters == {BRAND_PARAMETER: brand}


def test_a_cte_named_like_a_view_is_renamed_so_clickhouse_cannot_take_it_for_the_table() -> None:
    checked = check_query(
        "WITH players AS (SELECT * FROM players WHERE deposits > 0) SELECT * FROM players",
        DB,
        "brand-a",
    )
    assert tables(checked.sql) == [("", "analyst_cte_0"), (DB, "players")]
    assert brand_filters(checked.sql) == 1


def test_clickhouse_errors_become_short_messages() -> None:
    leak = (
        "Code: 47. DB::Exception: Missing columns: 'nope' while processing query: 'SELECT "
        "nope FROM clickpath.players', chdb:///var/lib/clickpath/secret-dir. "
        "(UNKNOWN_IDENTIFIER) (version 24.8.1)"
    )
    message = refusal(RuntimeError(leak))
    assert message == (
        "ClickHouse refused the query (UNKNOWN_IDENTIFIER): it names a column the views it reads do not have"
    )
    assert refusal(RuntimeError("Code: 159. Timeout exceeded (TIMEOUT_EXCEEDED)")) is not None
    assert refusal(ConnectionRefusedError("connect to http://u:pw@ch:8123 refused")) is None
    assert refusal(RuntimeError("Code: 210. Connection reset (NETWORK_ERROR)")) is None
