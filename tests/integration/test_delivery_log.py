"""The delivery log through `clickpath sql` (issue 21, item 8): docs/delivery.md's queries run as
printed, over the `delivery_log` view, in real (embedded) ClickHouse migrated by clickpath. A
replayed attempt record reads once without FINAL, and an analyst key reads its own brand's
deliveries only. Before, the doc's `clickpath.delivery_attempts FINAL` was refused (a table
that is not an analyst view, and FINAL)."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clickpath.contracts.models import DeliveryAttempt
from clickpath.infra.analyst_run import answer
from clickpath.infra.analyst_sql import QueryRefused
from clickpath.infra.clickhouse import apply_migrations, connect
from clickpath.settings import Settings
from clickpath.sinks.clickhouse.writer import write_batch

DB = "clickpath"
DOC = Path(__file__).parents[2] / "docs" / "delivery.md"


def attempt(job: str, outcome: str, brand: str, n: int = 1, status: int | None = 200) -> DeliveryAttempt:
    return DeliveryAttempt(
        job_id=job, endpoint_id=f"{brand}-pb", kind="postback", event="ftd", affiliate_id="aff-1",
        brand_id=brand, attempt=n, status=status, latency_ms=12, outcome=outcome,  # type: ignore[arg-type]
        error=None if outcome == "delivered" else f"HTTP {status}",
        attempted_at=datetime(2026, 12, 1, 12, n, tzinfo=UTC),
    )


def documented_queries() -> list[str]:
    """The SQL of docs/delivery.md's "Delivery log" section: its `clickpath sql` commands and
    its sql blocks, as printed."""
    section = DOC.read_text().split("## Delivery log", 1)[1].split("\n## ", 1)[0]
    queries = [block.strip() for block in re.findall(r"```sql\n(.*?)```", section, re.S)]
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words[:2] == ["clickpath", "sql"]:
                queries.append(words[2])
    return queries


@pytest.fixture
def chdb(tmp_path):
    settings = Settings(clickhouse_url=f"chdb://{tmp_path / 'ch'}", clickhouse_database=DB,
                        data_dir=tmp_path / "data", pseudonym_key="k")
    client = connect(settings)
    apply_migrations(client, DB)
    rows = [attempt("j1", "retry", "brand-a", 1, 503), attempt("j1", "delivered", "brand-a", 2),
            attempt("j2", "dead_letter", "brand-b", 1, 404)]
    write_batch(client, DB, rows)
    write_batch(client, DB, rows[:1])  # a replayed attempt record: its twin, not merged yet
    yield settings
    client.close()


def test_the_documented_delivery_log_queries_run_as_printed(chdb) -> None:
    queries = documented_queries()
    assert len(queries) >= 2 and all("delivery_log" in q for q in queries)
    assert not any("FINAL" in q for q in queries)
    for query in queries:
        result = answer(chdb, query, None)
        assert result["rows"], query
    per_outcome, recent = answer(chdb, queries[0], None), answer(chdb, queries[-1], None)  # sql, then sh
    assert len(recent["rows"]) == 3  # the twin reads once
    counts = {(r[0], r[1]): r[2] for r in per_outcome["rows"]}
    assert counts == {("brand-a-pb", "delivered"): 1, ("brand-a-pb", "retry"): 1,
                      ("brand-b-pb", "dead_letter"): 1}


def test_an_analyst_reads_its_own_brands_deliveries_only(chdb) -> None:
    query = "SELECT brand_id, endpoint_id, count() FROM delivery_log GROUP BY brand_id, endpoint_id"
    assert answer(chdb, query, "brand-b")["rows"] == [["brand-b", "brand-b-pb", 1]]
    assert answer(chdb, query + " HAVING brand_id = 'brand-a'", "brand-b")["rows"] == []
    with pytest.raises(QueryRefused):  # the table itself stays out of reach
        answer(chdb, "SELECT count() FROM delivery_attempts", "brand-b")
