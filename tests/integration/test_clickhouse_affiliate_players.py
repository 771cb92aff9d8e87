"""The affiliate portal's tables in real ClickHouse (embedded chdb, the shipped DDL 012 and 008):
the sink writes every AffiliatePlayerStatus field, a player is its highest version whatever
order versions arrive in (merged or not), a consent-withdrawn player is counted and never
listed, and the deliveries are one per job, its last attempt's, of the affiliate's own
postbacks only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from clickpath.contracts.models import AffiliatePlayerStatus, DeliveryAttempt
from clickpath.infra.affiliate_players import (
    affiliates_on_hold,
    query_affiliate_deliveries,
    query_affiliate_players,
)
from clickpath.sinks.clickhouse.writer import write_batch

DB = "clickpath"
T0 = datetime(2026, 11, 5, 12, tzinfo=UTC)


def status(token: str, version: int, state: str = "qualified", reasons: tuple[str, ...] = (),
           *, affiliate: str = "aff-1", shares: bool = True, day: int = 0,
           brand: str = "brand-a", **changes: Any) -> AffiliatePlayerStatus:
    fields: dict[str, Any] = dict(
        affiliate_id=affiliate, player_token=token, brand_id=brand, campaign_id="camp-1",
        registered_at=T0 + timedelta(days=day), status=state, reasons=list(reasons),
        cpa_amount=Decimal("30.00") if state == "qualified" and not reasons else Decimal(0),
        currency="EUR", qualified_at=T0 + timedelta(days=day, hours=1), shares_data=shares,
        version=version, updated_at=T0 + timedelta(minutes=version),
    )
    return AffiliatePlayerStatus(**{**fields, **changes})


def test_the_newest_version_of_each_player_in_any_order_merged_or_not(client) -> None:
    write_batch(client, DB, [status("tok-1", 2, "held", ("fraud_hold",)),
                             status("tok-2", 1, "pending", ("kyc_missing",), day=1)])
    write_batch(client, DB, [status("tok-1", 1, "pending", ("kyc_missing",)),  # older, later
                             status("tok-1", 2, "held", ("fraud_hold",))])  # a replay
    before = query_affiliate_players(client, DB, affiliate_id="aff-1")
    assert [(p["player_token"], p["status"], p["reasons"]) for p in before["players"]] == [
        ("tok-2", "pending", ["kyc_missing"]), ("tok-1", "held", ["fraud_hold"])]
    client.command(f"OPTIMIZE TABLE {DB}.affiliate_player_status FINAL")
    assert query_affiliate_players(client, DB, affiliate_id="aff-1") == before
    [held] = [p for p in before["players"] if p["player_token"] == "tok-1"]
    assert held == {
        "player_token": "tok-1", "brand_id": "brand-a", "campaign_id": "camp-1",
        "registered_at": "2026-11-05T12:00:00Z", "status": "held", "reasons": ["fraud_hold"],
        "cpa_amount": "0.00", "currency": "EUR", "qualified_at": "2026-11-05T13:00:00Z",
    }
    assert affiliates_on_hold(client, DB) == {"aff-1"}
    write_batch(client, DB, [status("tok-1", 3)])  # released
    assert affiliates_on_hold(client, DB) == set()


def test_totals_count_the_withheld_and_the_list_never_shows_them(client) -> None:
    write_batch(client, DB, [
        status("tok-1", 1, day=3),
        status("tok-2", 1, "pending", ("ftd_below_minimum",), day=2),
        status("tok-3", 1, "reversed", ("chargeback",), day=1),
        status("tok-4", 1, shares=False),  # consent withdrawn
        status("tok-5", 4, "held", ("duplicate_account", "fraud_hold"), shares=False, day=4),
        status("tok-9", 1, affiliate="aff-2"),
        status("tok-6", 1, "pending", ("kyc_missing",), brand="brand-b"),
    ])
    answer = query_affiliate_players(client, DB, affiliate_id="aff-1")
    assert [p["player_token"] for p in answer["players"]] == ["tok-1", "tok-2", "tok-3", "tok-6"]
    assert answer["totals"] == {"players": 6, "qualified": 2, "pending": 2, "held": 1,
                                "reversed": 1, "not_attributed": 0, "withheld": 2, "matching": 4}
    assert affiliates_on_hold(client, DB) == {"aff-1"}  # a withheld player still holds it
    held = query_affiliate_players(client, DB, affiliate_id="aff-1", reason="fraud_hold")
    assert held["players"] == [] and held["totals"]["matching"] == 0
    page = query_affiliate_players(client, DB, affiliate_id="aff-1", limit=2, offset=1)
    assert [p["player_token"] for p in page["players"]] == ["tok-2", "tok-3"]
    pending = query_affiliate_players(client, DB, affiliate_id="aff-1", status="pending",
                                      brand_id="brand-a")
    assert [p["player_token"] for p in pending["players"]] == ["tok-2"]
    assert pending["totals"]["players"] == 5  # brand-a's only
    other = query_affiliate_players(client, DB, affiliate_id="aff-2")
    assert [p["player_token"] for p in other["players"]] == ["tok-9"]
    with pytest.raises(ValueError, match="limit"):
        query_affiliate_players(client, DB, affiliate_id="aff-1", limit=1001)


def attempt(job: str, n: int, outcome: str, http: int | None, *, minutes: int,
            affiliate: str = "aff-1", endpoint: str = "aff-1-default", kind: str = "postback",
            error: str | None = None) -> DeliveryAttempt:
    return DeliveryAttempt(
        job_id=job, endpoint_id=endpoint, kind=kind, event="ftd", affiliate_id=affiliate,
        brand_id="brand-a", attempt=n, status=http, latency_ms=12, outcome=outcome,
        error=error, attempted_at=T0 + timedelta(minutes=minutes),
    )


def test_deliveries_are_one_per_job_its_last_attempt_the_affiliates_own(client) -> None:
    write_batch(client, DB, [
        attempt("j1", 1, "retry", 503, minutes=0, error="HTTP 503"),
        attempt("j1", 2, "retry", None, minutes=1,
                error="connect failed: http://u:pw@t.example/?token=abc"),
        attempt("j1", 3, "delivered", 200, minutes=5),
        attempt("j2", 1, "retry", None, minutes=3, error="timeout"),
        attempt("j3", 1, "suppressed", None, minutes=4, endpoint="-"),  # never left
        attempt("j4", 1, "delivered", 200, minutes=6, affiliate="aff-2", endpoint="aff-2-x"),
        attempt("j5", 1, "delivered", 200, minutes=7, kind="webhook", endpoint="ops"),
    ])
    write_batch(client, DB, [attempt("j1", 3, "delivered", 200, minutes=5)])  # replayed
    rows = query_affiliate_deliveries(client, DB, affiliate_id="aff-1")
    assert [(r["job_id"], r["status"], r["attempts"], r["http_status"], r["error"],
             r["last_attempt_at"]) for r in rows] == [
        ("j1", "delivered", 3, 200, None, "2026-11-05T12:05:00Z"),
        ("j2", "retry", 1, None, "timeout", "2026-11-05T12:03:00Z"),
    ]
    assert rows[0]["first_attempt_at"] == "2026-11-05T12:00:00Z"
    assert [r["job_id"] for r in query_affiliate_deliveries(
        client, DB, affiliate_id="aff-1", since=T0 + timedelta(minutes=4))] == ["j1"]
    assert [r["job_id"] for r in query_affiliate_deliveries(
        client, DB, affiliate_id="aff-1", limit=1)] == ["j1"]
    write_batch(client, DB, [attempt("j2", 2, "dead_letter", None, minutes=9,
                                     error="connect failed: http://u:pw@t.example/?token=abc")])
    latest = query_affiliate_deliveries(client, DB, affiliate_id="aff-1")[0]
    assert latest["status"] == "dead_letter" and "pw" not in latest["error"]
    assert "abc" not in latest["error"]
