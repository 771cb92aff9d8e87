from __future__ import annotations

import json
from decimal import Decimal

from clickpath.domain.report import render, summarize

ROWS = [
    {"affiliate_id": "aff-1", "campaign_id": "c", "currency": "", "clicks": 10,
     "registrations": 4, "ftds": 0, "deposits": 0, "deposit_sum": Decimal(0)},
    {"affiliate_id": "aff-1", "campaign_id": "c", "currency": "EUR", "clicks": 0,
     "registrations": 0, "ftds": 2, "deposits": 3, "deposit_sum": Decimal("100.0000")},
    {"affiliate_id": "aff-1", "campaign_id": "c", "currency": "GBP", "clicks": 0,
     "registrations": 0, "ftds": 1, "deposits": 1, "deposit_sum": "20.5"},
    {"affiliate_id": "", "campaign_id": "", "currency": "", "clicks": 0,
     "registrations": 2, "ftds": 0, "deposits": 0, "deposit_sum": "0"},
]


def test_summary_computes_kpis_per_affiliate_and_campaign() -> None:
    report = summarize(ROWS)
    assert report[0]["affiliate_id"] == "(unattributed)"
    assert report[0]["click_to_registration"] is None
    row = report[1]
    zeros = {"EUR": "0.00", "GBP": "0.00"}
    assert row == {
        "brand_id": "", "affiliate_id": "aff-1", "campaign_id": "c", "clicks": 10, "registrations": 4,
        "click_to_registration": 0.4, "ftds": 3, "registration_to_deposit": 0.75,
        "deposits": 4, "deposit_sum": {"EUR": "100.00", "GBP": "20.50"},
        "average_deposit": {"EUR": "33.33", "GBP": "20.50"},
        # Rows without the player's value (a sink of an older version) read it as zero.
        "ftd_sum": zeros, "declined_deposits": 0, "withdrawals": 0, "withdrawal_sum": zeros,
        "chargebacks": 0, "chargeback_sum": zeros, "stakes": zeros, "wins": zeros,
        "bonus_stakes": zeros, "bonus_cost": zeros, "ggr": zeros, "ngr": zeros,
        "by_currency": {
            "EUR": {"ftds": 2, "deposits": 3, "declined_deposits": 0, "withdrawals": 0, "chargebacks": 0},
            "GBP": {"ftds": 1, "deposits": 1, "declined_deposits": 0, "withdrawals": 0, "chargebacks": 0},
        },
    }


VALUE = {"clicks": 0, "registrations": 0, "ftds": 0, "deposits": 0, "deposit_sum": "0"}
VALUE_ROWS = [
    # Two days of the same affiliate and campaign in EUR (as funnel_agg sums them, strings as
    # the sink's loopback endpoint sends them), and one in BTC with no deposit at all.
    {**VALUE, "affiliate_id": "aff-1", "campaign_id": "c", "currency": "EUR", "ftds": 1,
     "deposits": 3, "deposit_sum": "300.00", "ftd_sum": "100.00", "declined_deposits": 2,
     "withdrawals": 1, "withdrawal_sum": "50.00", "chargebacks": 1, "chargeback_sum": "40.00",
     "stakes": "1000.00", "wins": "870.50", "bonus_stakes": "30.00", "bonus_cost": "12.25"},
    {**VALUE, "affiliate_id": "aff-1", "campaign_id": "c", "currency": "EUR",
     "stakes": Decimal("200.0000"), "wins": Decimal("250.0000"), "bonus_cost": Decimal("5.0000")},
    {**VALUE, "affiliate_id": "aff-1", "campaign_id": "c", "currency": "BTC",
     "stakes": "0.0125", "wins": "0.01", "chargebacks": 0},
    {**VALUE, "affiliate_id": "aff-1", "campaign_id": "c", "currency": "", "clicks": 7,
     "registrations": 2},
]


def test_the_players_value_per_affiliate_and_campaign() -> None:
    [row] = summarize(VALUE_ROWS)
    assert (row["clicks"], row["registrations"], row["ftds"], row["deposits"]) == (7, 2, 1, 3)
    assert (row["declined_deposits"], row["withdrawals"], row["chargebacks"]) == (2, 1, 1)
    assert row["deposit_sum"] == {"BTC": "0.00", "EUR": "300.00"}
    assert row["average_deposit"] == {"EUR": "100.00"}  # BTC had no deposit
    assert row["ftd_sum"] == {"BTC": "0.00", "EUR": "100.00"}
    assert row["withdrawal_sum"] == {"BTC": "0.00", "EUR": "50.00"}
    assert row["chargeback_sum"] == {"BTC": "0.00", "EUR": "40.00"}
    assert row["bonus_cost"] == {"BTC": "0.00", "EUR": "17.25"}
    # GGR = stakes - wins = 1200 - 1120.50; NGR = GGR - bonus cost - chargebacks = 79.50 - 17.25 - 40
    assert row["ggr"] == {"BTC": "0.0025", "EUR": "79.50"}
    assert row["ngr"] == {"BTC": "0.0025", "EUR": "22.25"}
    assert json.loads(render([row], "json")) == [row]


def test_json_keeps_its_fields_and_splits_the_groups_by_brand() -> None:
    """Scripts read the JSON: every field it had stays, brand_id is added and a group is per
    brand (two brands' players were summed into one row before)."""
    rows = [{**r, "brand_id": brand} for r in ROWS for brand in ("goldbet", "luckyspin")]
    report = summarize(rows)
    assert [(r["brand_id"], r["affiliate_id"]) for r in report] == [
        ("goldbet", "(unattributed)"), ("goldbet", "aff-1"),
        ("luckyspin", "(unattributed)"), ("luckyspin", "aff-1"),
    ]
    [old] = [r for r in summarize(ROWS) if r["affiliate_id"] == "aff-1"]
    assert set(old) - {"brand_id", "by_currency"} <= set(report[1])
    assert report[1]["deposit_sum"] == {"EUR": "100.00", "GBP": "20.50"}
    assert json.loads(render(report, "json")) == report


def test_amounts_in_the_reporting_currency_convert_each_day_at_its_rate() -> None:
    from datetime import date

    from clickpath.domain.fx import FxRate, FxTable

    fx = FxTable("EUR", [FxRate(currency="USD", rate=Decimal("0.90"), effective_from=date(2026, 1, 1)),
                         FxRate(currency="USD", rate=Decimal("0.80"), effective_from=date(2026, 2, 1))])
    base = {"affiliate_id": "a", "campaign_id": "c", "clicks": 0, "registrations": 0, "ftds": 0}
    rows = [
        {**base, "currency": "EUR", "day": "2026-01-15", "deposits": 1, "deposit_sum": "10.00",
         "stakes": "100", "wins": "40"},
        {**base, "currency": "USD", "day": "2026-01-20", "deposits": 1, "deposit_sum": "100.00"},
        {**base, "currency": "USD", "day": "2026-02-03", "deposits": 1, "deposit_sum": "50.00"},
    ]
    [row] = summarize(rows, fx)
    assert row["deposit_sum"] == {"EUR": "10.00", "USD": "150.00"}
    assert row["deposit_sum_reporting"] == "140.00"  # 10 + 100 * 0.90 + 50 * 0.80
    assert (row["ngr_reporting"], row["reporting_currency"]) == ("60.00", "EUR")
    [missing] = summarize([{**rows[1], "currency": "SEK"}], fx)
    assert missing["deposit_sum_reporting"] is None and missing["fx_missing"] == ["SEK"]
