"""An empty answer on chdb comes without a header, so run_query asks for it again with
LIMIT 0; a subquery used as a value would then run a second time at analysis (review 21
item 13), so such a query keeps its empty header instead."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from clickpath.infra.analyst_run import run_query, values_from_subqueries
from clickpath.infra.analyst_sql import check_query


class EmptyChdb:
    """Answers every query with no rows and, like chdb, no header; records what it ran."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    @contextmanager
    def query_row_block_stream(self, sql: str, parameters: Any = None, settings: Any = None):
        self.queries.append(sql)
        yield _Stream()

    def query(self, sql: str, parameters: Any = None) -> Any:
        self.queries.append(sql)
        return SimpleNamespace(column_names=("n",), column_types=(SimpleNamespace(name="UInt64"),))


class _Stream:
    source = SimpleNamespace(column_names=(), column_types=())

    def __iter__(self) -> Any:
        return iter(())


@pytest.mark.parametrize(
    "query",
    [
        "SELECT (SELECT count() FROM players) AS n WHERE 0",
        "WITH (SELECT count() FROM players) AS n SELECT n WHERE 0",
        "SELECT count() AS n FROM players WHERE person_id = (SELECT max(person_id) FROM players) AND 0",
        "SELECT 1 AS n WHERE EXISTS (SELECT 1 FROM players) AND 0",
    ],
)
def test_a_query_with_a_value_subquery_is_not_run_again_for_its_header(query: str) -> None:
    for brand in ("brand-a", None):
        checked = check_query(query, "clickpath", brand)
        assert values_from_subqueries(checked.sql)
        client = EmptyChdb()
        answer = run_query(client, checked)  # type: ignore[arg-type]
        assert client.queries == [checked.sql]  # once, not again as LIMIT 0
        assert answer["rows"] == [] and answer["columns"] == []


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count() AS n FROM players WHERE 0",
        "SELECT n FROM (SELECT count() AS n FROM players) AS p WHERE 0",
        "SELECT person_id AS n FROM players WHERE person_id IN (SELECT person_id FROM players_money)",
        "WITH t AS (SELECT person_id FROM players) SELECT person_id AS n FROM t",
    ],
)
def test_other_empty_answers_still_get_their_header(query: str) -> None:
    checked = check_query(query, "clickpath", "brand-a")
    assert not values_from_subqueries(checked.sql)
    client = EmptyChdb()
    answer = run_query(client, checked)  # type: ignore[arg-type]
    assert client.queries == [checked.sql, f"SELECT * FROM ({checked.sql}) LIMIT 0"]
    assert answer["columns"] == ["n"] and answer["types"] == ["UInt64"]
