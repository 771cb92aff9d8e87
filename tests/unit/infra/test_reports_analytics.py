"""infra/reports.py: the attribution report reads the paths under the embedded sink's lock and
runs the models after releasing it (the sink keeps writing while they run); the cohort
reports' rows are JSON values, the same from a server as over the sink's loopback."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

from clickpath.domain.multitouch import Credit, Path
from clickpath.infra import reports
from clickpath.settings import Settings

PATH = Path(("aff-1",), (10.0,), True, {"EUR": Decimal("5")})


def test_the_lock_is_held_for_the_read_only(monkeypatch) -> None:
    lock = threading.Lock()
    seen: list[tuple[str, bool]] = []

    def query_paths(_client, _db, **_filters):
        seen.append(("read", lock.locked()))
        return [PATH]

    def attribute(paths, models, params):
        seen.append(("models", lock.locked()))
        return [Credit(m, "aff-1", Decimal(1), {"EUR": Decimal("5")}) for m in models]

    monkeypatch.setattr(reports, "query_paths", query_paths)
    monkeypatch.setattr(reports, "attribute", attribute)
    rows = reports.query_attribution(
        object(),
        "db",
        brand_id="b",
        models=("first", "last"),
        conversion="registration",
        value="ngr",
        by="affiliate",
        since=None,
        until=None,
        lookback_days=30,
        half_life_days=7.0,
        position_first=Decimal("0.4"),
        position_last=Decimal("0.4"),
        lock=lock,
    )
    assert seen == [("read", True), ("models", False)]
    assert [(r["model"], r["conversions"], r["value"]) for r in rows] == [
        ("first", "1", {"EUR": "5"}),
        ("last", "1", {"EUR": "5"}),
    ]


def test_cohort_rows_are_json_values_with_the_configured_zones(monkeypatch) -> None:
    asked = {}

    def query_cohorts(_client, _db, **filters):
        asked.update(filters)
        return [{"cohort": date(2026, 1, 1), "ngr_30": Decimal("1.50"), "cpa_accrued": None}]

    monkeypatch.setattr(reports, "query_cohorts", query_cohorts)
    rows = reports.query_cohort_rows(
        object(), "db", Settings(pseudonym_key="k"), brand_id=None, grain="month", since=None, until=None
    )
    assert rows == [{"cohort": "2026-01-01", "ngr_30": "1.50", "cpa_accrued": None}]
    assert asked["time_zones"] == {} and "cpa" not in asked  # the CPA is the ledger's
