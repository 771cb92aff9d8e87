"""Raw events to a statement on the real broker: the worker's four stages, the ClickHouse sink,
and `statements` and the cohort report read through the sink's process, as a user runs them
(issue 23).

aff-1 pays a CPA of 30.00 EUR for a first deposit of at least 20.00; aff-2 a flat RevShare of
30 %. The events come out of order and with duplicates (tests/factories.py's end-to-end
scenario, plus aff-2's player and p2 wagering), so the statement must show each CPA once, and
the cohort report the CPA accrued.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx

from clickpath.contracts.models import Wager
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import cohort_rows, statement_rows
from tests.factories import at, click, deposit, end_to_end_events, registration
from tests.integration.harness import holds_for, wait_until

PLANS = {
    "cpa-1": {"versions": [{"effective_from": "2020-01-01", "currency": "EUR",
                            "cpa": {"amount": "30.00", "min_first_deposit": "20.00"}}],
              "assign": [{"affiliate": "aff-1"}]},
    "rs-2": {"versions": [{"effective_from": "2020-01-01", "currency": "EUR",
                           "revshare": {"mode": "flat", "rate": "0.3"}}],
             "assign": [{"affiliate": "aff-2"}]},
}
P5 = {"brand_id": "brand-a", "player_id": "p5", "source": "crm"}


def _wager(n: int, stake: str, win: str, player: dict[str, str] = P5) -> Wager:
    return Wager(event_id=f"w{n}", occurred_at=at(20 + n), wager_id=f"w{n}", stake=Decimal(stake),
                 win=Decimal(win), bonus_stake=Decimal(0), currency="EUR", game_category="casino",
                 **player)


def _aff1_cohorts(settings) -> list[tuple] | None:
    try:
        rows = cohort_rows(settings, brand_id=None, grain="month", since=None, until=None)
    except httpx.TransportError:
        return None
    return sorted((r["cohort"], r["campaign_id"], r["currency"], r["ngr_365"], r["cpa_accrued"],
                   r["cpa_to_ltv_365"]) for r in rows if r["affiliate_id"] == "aff-1")


def _statements(settings) -> dict[str, tuple] | None:
    try:
        rows = statement_rows(settings, period="2026-11", as_of=datetime(2027, 1, 1, tzinfo=UTC))
    except httpx.TransportError:
        return None  # the sink is still starting
    return {r["affiliate_id"]: (r["cpa_count"], r["cpa_amount"], r["revshare_amount"], r["total"])
            for r in rows}


def test_raw_events_become_a_statement_with_each_cpa_once(settings, codec, start_role) -> None:
    settings = settings.model_copy(update={"plans": PLANS})
    for args in (("worker",), ("sink", "clickhouse")):
        start_role(*args, role_settings=settings)
    aff2 = [click("c5", affiliate="aff-2", campaign="camp-b", minutes=10),
            registration("p5", "c5", minutes=11), deposit("p5", "t5", "50.00", minutes=12),
            _wager(1, "100.00", "40.00"), _wager(2, "50.00", "0.00"), _wager(1, "100.00", "40.00")]
    p2_wager = _wager(3, "80.00", "20.00", {**P5, "player_id": "p2"})
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all([*end_to_end_events(), *aff2, p2_wager])

    # aff-1: p1's first deposit is 10.00 (below the minimum), p2's 99.99 qualifies; aff-2:
    # GGR 110.00 (the duplicate wager counts once) at 30 %.
    expected = {"aff-1": (1, "30.00", "0.00", "30.00"), "aff-2": (0, "0.00", "33.00", "33.00")}
    wait_until(lambda: _statements(settings) == expected, 120, "the statements in ClickHouse")
    holds_for(lambda: _statements(settings) == expected, "the statements unchanged")
    # aff-1's November cohort: the CPA accrued on p2 (30.00) over the cohort's NGR (p2's 60.00).
    cohort = [("2026-11-01", "camp-a", "EUR", "60.00", "30.00 EUR", "0.5000")]
    wait_until(lambda: _aff1_cohorts(settings) == cohort, 60, "the CPA accrued in the cohort")
