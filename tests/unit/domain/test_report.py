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
    assert row == {
        "affiliate_id": "aff-1", "campaign_id": "c", "clicks": 10, "registrations": 4,
        "click_to_registration": 0.4, "ftds": 3, "registration_to_deposit": 0.75,
        "deposits": 4, "deposit_sum": {"EUR": "100.00", "GBP": "20.50"},
        "average_deposit": {"EUR": "33.33", "GBP": "20.50"},
    }


def test_formats() -> None:
    report = summarize(ROWS)
    assert json.loads(render(report, "json")) == report
    csv_text = render(report, "csv").splitlines()
    assert csv_text[0].startswith("affiliate,campaign,clicks,registrations")
    assert "100.00 EUR, 20.50 GBP" in render(report, "table")
