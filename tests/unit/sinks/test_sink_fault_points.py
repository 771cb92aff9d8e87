"""Where the ClickHouse writer's crash points sit, without ClickHouse: each `after_insert` point
right behind its table's insert, `mid_insert` between two tables' inserts of one batch, and every
table the writer inserts into named in faults.SINK_TABLES (the real-process test kills at each,
tests/crash/test_sink_crash_points.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from clickpath.contracts.models import (
    CanonicalEvent,
    DeliveryAttempt,
    LedgerEntry,
    PlayerDayFact,
    Record,
)
from clickpath.infra import faults
from clickpath.sinks.clickhouse.writer import write_batch

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


class RecordingClient:
    """Answers every look-up with nothing stored and records the tables inserted into."""

    def __init__(self) -> None:
        self.inserted: list[str] = []

    def query(self, *_args: Any, **_kw: Any) -> SimpleNamespace:
        return SimpleNamespace(result_rows=[])

    def insert(self, table: str, *_args: Any, **_kw: Any) -> None:
        self.inserted.append(table.split(".", 1)[1])


def batch() -> list[Record]:
    return [
        CanonicalEvent(event_id="e1", event_type="deposit", occurred_at=T0, processed_at=T0,
                       brand_id="b", source="crm", person_id="b:p", is_ftd=True, payload="{}"),
        PlayerDayFact(person_id="b:p", brand_id="b", day=T0.date(), currency="EUR",
                      affiliate_id="a", campaign_id="c", registrations=1, ftds=1, deposits=1,
                      deposit_sum=Decimal(10), version=1),
        DeliveryAttempt(job_id="j", endpoint_id="ep", kind="postback", event="ftd", attempt=1,
                        status=200, latency_ms=1, outcome="delivered", attempted_at=T0),
        LedgerEntry(entry_id="le1", affiliate_id="a", period="2026-11", kind="accrual",
                    component="cpa", amount=Decimal("100.00"), currency="EUR",
                    original_amount=Decimal("100.00"), original_currency="EUR",
                    fx_rate=Decimal(1), plan_id="cpa", plan_version=1, caused_by=["e1"],
                    occurred_at=T0, recorded_at=T0),
    ]


@pytest.fixture(autouse=True)
def _disarm():
    yield
    faults.arm(None)


def kill_at(point: str, n: int = 1) -> RecordingClient:
    faults.arm(faults.FaultPlan(point, n, raise_instead=True))
    client = RecordingClient()
    with pytest.raises(faults.Killed):
        write_batch(client, "db", batch())  # type: ignore[arg-type]
    return client


def test_every_table_written_is_a_crash_point() -> None:
    client = RecordingClient()
    write_batch(client, "db", batch())  # type: ignore[arg-type]
    assert client.inserted == ["events", "fact_rows", "delivery_attempts", "commission_ledger"]
    assert {f"sink.after_insert.{t}" for t in client.inserted} <= faults.POINTS


@pytest.mark.parametrize("table", ["events", "fact_rows", "delivery_attempts", "commission_ledger"])
def test_an_after_insert_point_kills_right_behind_its_tables_insert(table: str) -> None:
    inserted = kill_at(f"sink.after_insert.{table}").inserted
    assert inserted[-1] == table


def test_mid_insert_kills_between_two_tables_of_one_batch() -> None:
    assert kill_at("sink.mid_insert", 1).inserted == ["events"]
    assert kill_at("sink.mid_insert", 2).inserted == ["events", "fact_rows"]
