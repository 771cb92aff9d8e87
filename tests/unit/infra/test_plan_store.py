"""Admin plan versions: added, never edited in place, kept in the data directory, and winning
over configuration from their date on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clickpath.domain.plans import PlanError, parse_plan
from clickpath.infra.plan_store import PlanStore

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CONFIGURED = {"alpha": parse_plan("alpha", {
    "versions": [{"effective_from": "2026-01-01", "currency": "EUR", "cpa": {"amount": "100.00"}}],
    "assign": [{"affiliate": "aff-alpha"}],
})}


def test_an_admin_version_wins_from_its_date_and_survives_a_restart(tmp_path: Path) -> None:
    store = PlanStore(tmp_path / "plans.json", CONFIGURED)
    added = store.add_version("alpha", {"versions": [
        {"effective_from": "2026-12-15", "currency": "EUR", "cpa": {"amount": "120.00"}}]}, NOW)
    assert (added.version, added.source, added.recorded_at) == (2, "admin", NOW)
    again = PlanStore(tmp_path / "plans.json", CONFIGURED).current()  # a restart
    on = {d: again.plan_for("aff-alpha", "b", None, d) for d in (date(2026, 12, 14), date(2026, 12, 15))}
    assert [(v.version, v.source, v.cpa.amount) for v in on.values() if v and v.cpa] == [
        (1, "config", Decimal("100.00")), (2, "admin", Decimal("120.00"))]


def test_a_version_with_a_taken_date_or_a_new_plan_without_assignment_is_refused(tmp_path: Path) -> None:
    store = PlanStore(tmp_path / "plans.json", CONFIGURED)
    with pytest.raises(PlanError, match=r"plans.alpha.versions\[0\].effective_from"):
        store.add_version("alpha", {"versions": [
            {"effective_from": "2026-01-01", "currency": "EUR", "cpa": {"amount": "1"}}]}, NOW)
    with pytest.raises(PlanError, match="plans.beta.assign"):
        store.add_version("beta", {"versions": [
            {"effective_from": "2026-01-01", "currency": "EUR", "cpa": {"amount": "1"}}]}, NOW)
    with pytest.raises(PlanError, match=r"plans.beta.versions\[0\].revshare.rate"):
        store.add_version("beta", {"assign": [{"affiliate": "aff-b"}], "versions": [
            {"effective_from": "2026-01-01", "currency": "EUR",
             "revshare": {"mode": "flat", "rate": "2"}}]}, NOW)
    assert not (tmp_path / "plans.json").exists() or "beta" not in (tmp_path / "plans.json").read_text()
    assert store.current().plan_ids() == ["alpha"]


def test_the_legacy_cpa_becomes_a_flat_cpa_plan_and_the_deprecation_is_logged_once(tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    from clickpath.infra.plan_store import plan_store_of
    from clickpath.settings import Settings

    settings = Settings(data_dir=tmp_path, affiliate_cpa={"aff-once-only": "50.00 GBP"})
    with capture_logs() as logs:
        book = plan_store_of(settings).current()
        plan_store_of(settings).current()  # a second store (a reload, another router): no second warning
    assert [e["affiliates"] for e in logs if e["event"] == "affiliate_cpa_deprecated"] == [["aff-once-only"]]
    version = book.plan_for("aff-once-only", None, None, date(1999, 1, 1))
    assert version is not None and version.plan_id == "legacy-cpa-aff-once-only"
    assert version.currency == "GBP" and version.cpa is not None and version.cpa.amount == Decimal("50.00")
    assert version.cpa.within_days == 30
