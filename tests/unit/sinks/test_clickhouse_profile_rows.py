"""The rows the ClickHouse sink writes for player profiles: each person's newest profile of a
batch, every field in its column, money as a map per measure, unwritable times refused."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from clickpath.contracts.models import CurrencyTotals, PlayerProfile
from clickpath.sinks.clickhouse.rows import (
    MONEY_MEASURES,
    PROFILE_NOT_STORED,
    PROFILE_ROW_COLUMNS,
    columns,
    newest_profiles,
    profile_row,
    unwritable_reason,
)

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def totals(currency: str, seed: int) -> CurrencyTotals:
    return CurrencyTotals(currency=currency, **{
        name: Decimal(f"{seed}{i}.{i:02d}05") for i, name in enumerate(MONEY_MEASURES, start=1)
    })


def profile(person: str = "b:p1", version: int = 1, **changes: Any) -> PlayerProfile:
    fields: dict[str, Any] = dict(
        person_id=person, brand_id="b", player_id=person.split(":")[-1], deposits=2,
        declined_deposits=1, withdrawals=0, chargebacks=0, money=[totals("EUR", 1)], sessions=3,
        consents={"marketing": True}, rg_active=[], tag_status="attributed",
        affiliate_id="aff-1", campaign_id="camp-1", churn_risk=0.25, updated_at=NOW,
        version=version,
    )
    return PlayerProfile(**{**fields, **changes})


def row(p: PlayerProfile) -> dict[str, Any]:
    return dict(zip(PROFILE_ROW_COLUMNS, profile_row(p), strict=True))


def test_a_row_holds_every_field_of_the_profile() -> None:
    p = profile(
        registered_at=NOW, kyc_status="verified", first_deposit_at=NOW,
        ftd_amount=Decimal("20.5"), ftd_currency="EUR", last_activity_at=NOW,
        rg_active=["deposit_limit"], money=[totals("EUR", 1), totals("GBP", 2)],
    )
    written = row(p)
    plain = set(PlayerProfile.model_fields) - {"money", *PROFILE_NOT_STORED}
    assert set(PROFILE_ROW_COLUMNS) == plain | set(MONEY_MEASURES)
    for name in plain:
        assert written[name] == getattr(p, name), name
    for name in MONEY_MEASURES:
        assert written[name] == {t.currency: getattr(t, name) for t in p.money}, name
        assert list(written[name]) == ["EUR", "GBP"]


def test_absent_strings_are_empty_and_absent_times_null() -> None:
    written = row(profile(money=[]))
    assert (written["kyc_status"], written["ftd_currency"]) == ("", "")
    assert written["registered_at"] is written["first_deposit_at"] is written["ftd_amount"] is None
    assert all(written[name] == {} for name in MONEY_MEASURES)


def test_of_a_batch_only_each_persons_newest_profile_is_written() -> None:
    batch = [profile("b:p1", 2), profile("b:p2", 1), profile("b:p1", 3), profile("b:p1", 1),
             profile("b:p2", 1, sessions=9)]
    assert [(p.person_id, p.version, p.sessions) for p in newest_profiles(batch)] == [
        ("b:p1", 3, 3), ("b:p2", 1, 3)  # of equal versions the first stays
    ]
    assert newest_profiles([]) == []


def test_rows_go_in_as_columns() -> None:
    rows = [profile_row(profile("b:p1", 1)), profile_row(profile("b:p2", 5))]
    cols = dict(zip(PROFILE_ROW_COLUMNS, columns(rows, len(PROFILE_ROW_COLUMNS)), strict=True))
    assert cols["person_id"] == ["b:p1", "b:p2"] and cols["version"] == [1, 5]


@pytest.mark.parametrize("name", ["registered_at", "first_deposit_at", "last_activity_at",
                                  "updated_at"])
def test_profile_times_outside_clickhouse_date_range_are_unwritable(name: str) -> None:
    assert unwritable_reason(profile(**{name: NOW})) is None
    for when in (datetime(2200, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, tzinfo=UTC)):
        assert name in (unwritable_reason(profile(**{name: when})) or ""), when

