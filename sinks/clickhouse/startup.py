"""What the ClickHouse sink does before it consumes: the versioned DDL, then the repairs of the
aggregates a kill may have left short (a view's insert lost behind its table's).

Both run before the first batch and under the writer's lock: a repair compares the tables with
their aggregates, so no insert may land while it reads. Each start pays one scan of the fact and
event tables for the repairs (clickpath.infra.clickhouse.repair_funnel, infra.cohorts).
"""

from __future__ import annotations

from typing import NamedTuple

import structlog
from clickhouse_connect.driver.client import Client

from clickpath.domain.redact import redact
from clickpath.infra.clickhouse import apply_migrations, repair_funnel
from clickpath.infra.cohorts import repair_cohorts

log = structlog.get_logger(__name__)


class Prepared(NamedTuple):
    """What a start did: the migrations applied and the aggregate rows the repairs added."""

    migrations_applied: list[str]
    funnel_rows_repaired: int
    cohort_rows_repaired: int


def prepare(client: Client, db: str, dsn: str) -> Prepared:
    """Migrate `db` and repair its aggregates; logs `clickhouse_ready` with what it did."""
    done = Prepared(apply_migrations(client, db), repair_funnel(client, db), repair_cohorts(client, db))
    log.info("clickhouse_ready", dsn=redact(dsn), **done._asdict())
    return done
