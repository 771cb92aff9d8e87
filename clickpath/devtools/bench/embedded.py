"""What the ClickHouse-filling benches share: a migrated database to fill, and phase peaks.

A bench that fills ClickHouse with synthetic rows (cohorts, attribution paths) wants a fresh
embedded chdb it removes afterwards, or a server database it drops first, migrated with the
shipped DDL so the views under test are the real ones; and the peak memory of each phase of a
process chdb runs inside. Never point `dsn` at a database that holds data you want: the bench
drops `db` there.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clickhouse_connect.driver.client import Client

from clickpath.infra.clickhouse import apply_migrations


@contextmanager
def bench_database(dsn: str | None, db: str, *, prefix: str) -> Iterator[Client]:
    """A client on `db`, dropped and migrated; `dsn` None: a fresh chdb directory, removed after."""
    import clickhouse_connect

    workdir = None if dsn else tempfile.mkdtemp(prefix=prefix)
    client = clickhouse_connect.get_client(dsn=dsn or f"chdb://{workdir}")
    try:
        client.command(f"DROP DATABASE IF EXISTS {db}")
        apply_migrations(client, db)
        yield client
    finally:
        client.close()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def reset_peak() -> bool:
    """Start a new peak-memory measurement (Linux: VmHWM reset); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False
