"""Cohort bucketing in a brand's zone, LTV windows, CPA-to-LTV and retention (docs/cohorts.md),
and the two cohort settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from clickpath.contracts.money import Money
from clickpath.domain.cohorts import (
    accrued_cpa,
    age_days,
    check_grain,
    check_time_zone,
    cohort_rows,
    cohort_start,
    cpa_to_ltv,
    in_window,
    retention_fractions,
    retention_rows,
    zone_groups,
)
from clickpath.settings import Settings

LAST_MINUTE = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)  # a Saturday, a month's last day


@pytest.mark.parametrize(
    ("zone", "month", "week"),
    [
        ("UTC", date(2026, 1, 1), date(2026, 1, 26)),
        ("Europe/Berlin", date(2026, 2, 1), date(2026, 1, 26)),  # Sunday 00:59 on 1 February
        ("America/New_York", date(2026, 1, 1), date(2026, 1, 26)),
        ("Asia/Kathmandu", date(2026, 2, 1), date(2026, 1, 26)),  # +5:45
        ("Pacific/Kiritimati", date(2026, 2, 1), date(2026, 1, 26)),  # +14: Sunday afternoon
    ],
)
def test_a_registration_at_2359_utc_on_a_months_last_day(zone, month, week) -> None:
    assert cohort_start(LAST_MINUTE, "month", zone) == month
    assert cohort_start(LAST_MINUTE, "week", zone) == week


def test_weeks_start_on_monday() -> None:
    sunday_night = datetime(2026, 2, 1, 23, 59, tzinfo=UTC)
    assert cohort_start(sunday_night, "week") == date(2026, 1, 26)
    assert cohort_start(sunday_night, "week", "Europe/Berlin") == date(2026, 2, 2)
    assert cohort_start(datetime(2026, 2, 2, tzinfo=UTC), "week").isoweekday() == 1


def test_windows_hold_ages_0_to_n_minus_1_utc_days() -> None:
    registered = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert age_days(registered, date(2026, 3, 1)) == 0
    assert [in_window(age_days(registered, date(2026, 3, d)), 30) for d in (30, 31)] == [True, False]
    assert age_days(registered, date(2026, 4, 1)) == 31
    assert not in_window(-1, 30)


def test_cpa_to_ltv_is_the_accrued_cpa_over_ngr_and_none_when_meaningless() -> None:
    eur = Money(Decimal("200"), "EUR")  # e.g. four CPAs of 50.00
    assert cpa_to_ltv(eur, "EUR", Decimal("400")) == Decimal("0.5000")
    assert cpa_to_ltv(Money(Decimal("150"), "EUR"), "EUR", Decimal("100")) == Decimal("1.5000")
    assert cpa_to_ltv(None, "EUR", Decimal("400")) is None
    assert cpa_to_ltv(eur, "USD", Decimal("400")) is None
    assert cpa_to_ltv(Money(Decimal("0"), "EUR"), "EUR", Decimal("400")) is None  # clawed back
    assert cpa_to_ltv(eur, "EUR", Decimal("-10")) is None


def test_retention_fractions() -> None:
    assert retention_fractions(3, [3, 2, 1, 0]) == [1.0, 0.6667, 0.3333, 0.0]
    assert retention_fractions(0, [0, 0]) == [None, None]


def test_zone_groups_read_each_brand_in_its_zone_once() -> None:
    zones = {"b1": "Europe/Berlin", "b2": "Europe/Berlin", "b3": "UTC", "b4": "Asia/Tokyo"}
    assert zone_groups(None, zones) == [
        ("Asia/Tokyo", ["b4"], []),
        ("Europe/Berlin", ["b1", "b2"], []),
        ("UTC", None, ["b1", "b2", "b4"]),
    ]
    assert zone_groups("b1", zones) == [("Europe/Berlin", ["b1"], [])]
    assert zone_groups("other", zones) == [("UTC", ["other"], [])]
    assert zone_groups(None, {}) == [("UTC", None, [])]


def test_accrued_cpa_nets_the_entries_per_cohort_and_currency() -> None:
    cohort = date(2026, 1, 1)
    key = ("b", "aff-1", "c", cohort)
    raw = [
        (*key, "EUR", "30.000000"), (*key, "EUR", Decimal("30")), (*key, "EUR", "-30.000000"),
        (*key, "USD", "10"), (*key, "USD", "-10"),  # clawed back whole: no CPA
        ("b", "aff-2", "", cohort, "EUR", "25"),
    ]
    assert accrued_cpa(raw) == {
        key: [Money(Decimal("30"), "EUR")],
        ("b", "aff-2", "", cohort): [Money(Decimal("25"), "EUR")],
    }


def test_cohort_rows_carry_players_and_cpa_on_every_currency_row_the_ratio_in_its_own() -> None:
    cohort = date(2026, 1, 1)
    zero = [0] * 6
    raw = [
        ("b", "aff-1", "c", cohort, "", 4, 0, *zero),
        ("b", "aff-1", "c", cohort, "EUR", 0, 2, 10, 20, 30, 40, 50, 60),
        ("b", "aff-1", "c", cohort, "USD", 0, 1, 1, 1, 1, 5, 5, 5),
        ("b", "aff-2", "c", cohort, "", 1, 0, *zero),
        ("b", "gone", "c", cohort, "", 0, 0, *zero),  # emptied by a re-tag
    ]
    rows = cohort_rows(raw, {("b", "aff-1", "c", cohort): [Money(Decimal("30"), "EUR")]})
    assert [(r["affiliate_id"], r["currency"], r["players"], r["ftds"]) for r in rows] == [
        ("aff-1", "EUR", 4, 2),
        ("aff-1", "USD", 4, 1),
        ("aff-2", "", 1, 0),
    ]
    eur = rows[0]
    assert (eur["deposits_30"], eur["ngr_365"], eur["cohort"]) == ("10.00", "60.00", "2026-01-01")
    assert (eur["cpa_accrued"], eur["cpa_to_ltv_365"]) == ("30.00 EUR", "0.5000")  # 30 / 60
    assert (rows[1]["cpa_accrued"], rows[1]["cpa_to_ltv_365"]) == ("30.00 EUR", None)
    assert (rows[2]["cpa_accrued"], rows[2]["cpa_to_ltv_365"]) == (None, None)


def test_retention_rows_list_every_period() -> None:
    key = ("b", "a", "c", date(2026, 1, 1))
    rows = retention_rows([(key, 4)], [(key, 0, 4), (key, 2, 1), (key, 9, 1)], periods=3)
    assert rows == [
        {
            "brand_id": "b",
            "affiliate_id": "a",
            "campaign_id": "c",
            "cohort": "2026-01-01",
            "players": 4,
            "active": [4, 0, 1],
            "retention": [1.0, 0.0, 0.25],
        }
    ]


def test_checks() -> None:
    assert check_time_zone("Asia/Kathmandu") == "Asia/Kathmandu"
    for bad in ("Mars/Olympus", "UTC'; DROP TABLE x", "../etc/passwd", ""):
        with pytest.raises(ValueError):
            check_time_zone(bad)
    with pytest.raises(ValueError, match="grain"):
        check_grain("day")


def test_settings_validate_zones_and_cpa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKPATH_BRAND_TIME_ZONES", '{"brand-a": "Europe/Malta"}')
    monkeypatch.setenv("CLICKPATH_AFFILIATE_CPA", '{"aff-1": "50.00 EUR", "aff-2": "0.001 BTC"}')
    s = Settings()
    assert s.brand_time_zones == {"brand-a": "Europe/Malta"}
    assert s.affiliate_cpa_money == {
        "aff-1": Money(Decimal("50.00"), "EUR"),
        "aff-2": Money(Decimal("0.001"), "BTC"),
    }
    monkeypatch.delenv("CLICKPATH_BRAND_TIME_ZONES")
    monkeypatch.delenv("CLICKPATH_AFFILIATE_CPA")
    assert Settings().affiliate_cpa_money == {} and Settings().brand_time_zones == {}
    for zones in ({"b": "Europe/Atlantis"}, {"b": "utc+1"}):
        with pytest.raises(ValueError, match="time zone"):
            Settings(brand_time_zones=zones)
    for cpa in ({"a": "50"}, {"a": "50 EURO"}, {"a": "fifty EUR"}, {"a": "-5 EUR"}):
        with pytest.raises(ValueError, match="affiliate_cpa"):
            Settings(affiliate_cpa=cpa)


@pytest.mark.parametrize("text", ["0", "0.0000", "723", "723.5000", "-25.5", "0.0005", "-0.0100", "12.3456"])
def test_amount_text_writes_decimal_text_as_format_amount_does(text: str) -> None:
    from clickpath.contracts.money import format_amount
    from clickpath.domain.cohorts import amount_text

    assert amount_text(text) == format_amount(Decimal(text)) == amount_text(Decimal(text))


def test_a_period_the_cohort_has_not_reached_is_none_not_zero() -> None:
    """A cohort of 1 Nov read on 15 Dec has begun periods 0 and 1 (days 0-29, 30-59) only:
    period 2 would start on 31 Dec, so it is unknown, not a retention of 0 %."""
    key = ("b", "aff-1", "c", date(2026, 11, 1))
    [row] = retention_rows([(key, 4)], [(key, 0, 4)], periods=3, as_of=date(2026, 12, 15))
    assert row["active"] == [4, 0, None]
    assert row["retention"] == [1.0, 0.0, None]
    [row] = retention_rows([(key, 4)], [(key, 0, 4)], periods=3, as_of=date(2026, 12, 31))
    assert row["retention"] == [1.0, 0.0, 0.0]
