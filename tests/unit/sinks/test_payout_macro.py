"""`{payout}`: a qualified_cpa's CPA paid, empty for every other event; a preset sends it in
the parameter that carries the other events' amount."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from clickpath.contracts.models import Postback
from clickpath.domain import presets
from clickpath.domain.endpoints import Endpoint
from clickpath.sinks.delivery.render import render_postback, sample_request

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def record(event: str, **money: object) -> Postback:
    return Postback(postback_id="pb", affiliate_id="aff-1", campaign_id="camp", brand_id="b",
                    event=event, click_id="c1", player_token="tok", occurred_at=NOW, **money)  # type: ignore[arg-type]


def test_a_hand_written_template_gets_the_payout_of_a_qualified_cpa_only() -> None:
    endpoint = Endpoint(endpoint_id="e", affiliate_id="aff-1", events=["ftd", "qualified_cpa"],
                        url="https://trk.example/pb?e={event}&payout={payout}&amt={amount}&cur={currency}")
    cpa = record("qualified_cpa", currency="EUR", payout=Decimal("12.5"), payout_currency="EUR")
    ftd = record("ftd", amount=Decimal("20"), currency="EUR")
    assert render_postback(endpoint, cpa, "j", NOW).url == (
        "https://trk.example/pb?e=qualified_cpa&payout=12.50&amt=&cur=EUR")
    assert render_postback(endpoint, ftd, "j", NOW).url == (
        "https://trk.example/pb?e=ftd&payout=&amt=20.00&cur=EUR")


def test_every_preset_sends_the_payout_where_it_sends_an_amount() -> None:
    for name, preset in presets.PRESETS.items():
        [value] = [param for param, macro in preset.macros if macro == "amount"]
        params = {k: "7" for k in preset.fixed} | ({"goal_qualified_cpa": "9"} if preset.goal else {})
        cpa = presets.template(name, "https://trk.example/x", params, "qualified_cpa")
        ftd = presets.template(name, "https://trk.example/x", params, "ftd")
        assert f"{value}={{payout}}" in cpa and "{amount}" not in cpa, name
        assert f"{value}={{amount}}" in ftd and "{payout}" not in ftd, name


def test_postbacks_test_shows_a_sample_cpa_paid() -> None:
    endpoint = Endpoint(endpoint_id="kt", affiliate_id="aff-1", preset="keitaro",
                        url="https://trk.example/k/postback", events=["qualified_cpa"])
    assert sample_request(endpoint, "qualified_cpa").url == (
        "https://trk.example/k/postback?subid=sample-click-id&payout=50.00&currency=EUR&status=sale")
