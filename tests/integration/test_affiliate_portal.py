"""Why each player did or did not earn their affiliate a CPA, on the real broker: raw events and
commission flags through the worker's stages and the ClickHouse sink, read back through
`GET /v1/affiliate/players` on the HTTP service, which asks the sink's loopback (issue 24).

aff-1 pays 30.00 EUR for a first deposit of at least 20.00 and a verified KYC within 30 days,
at most 6 CPAs a month. Its players: p1 qualifies; p2's first deposit is 10.00; p3 has no KYC;
p4's KYC comes after the window; p5 qualifies last of 7 in November (over the cap); p6's
deposit is charged back; p7 is held; p8 is held as a duplicate account; p9 is clawed back as
self-excluded; p10 qualifies but withdrew affiliate_data_sharing consent (counted, never
listed). aff-2's one player qualifies, and aff-2's key sees only it. The postback sink runs
too, so each affiliate's deliveries are real ones.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from fastapi.testclient import TestClient

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.contracts.models import Chargeback, CommissionFlag, Consent, Kyc
from clickpath.contracts.topics import Topic
from clickpath.domain.pseudonym import player_token
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import on_hold_affiliates
from tests.factories import at, click, deposit, registration
from tests.integration.harness import holds_for, wait_until
from tests.unit.connectors.http_support import AckingProducer

PLANS = {
    "cpa-kyc": {"versions": [{"effective_from": "2020-01-01", "currency": "EUR",
                              "cpa": {"amount": "30.00", "min_first_deposit": "20.00",
                                      "kyc_verified": True, "within_days": 30,
                                      "monthly_cap": 6, "clawback_days": 90}}],
                "assign": [{"affiliate": "aff-1"}, {"affiliate": "aff-2"}]},
}
DAY = 24 * 60


def kyc(player: str, minutes: float) -> Kyc:
    return Kyc(event_id=f"ev-kyc-{player}", occurred_at=at(minutes), brand_id="brand-a",
               source="crm", player_id=player, status="verified")


def player(n: int, ftd: str, kyc_at: float | None, affiliate: str = "aff-1") -> list[Any]:
    """pN registers from its own click at minute N, deposits at N+1, KYC at `kyc_at`."""
    name, events = f"p{n}", []
    events += [click(f"c{n}", affiliate=affiliate, minutes=n), registration(name, f"c{n}", n + 0.5),
               deposit(name, f"t{n}", ftd, minutes=n + 1)]
    if kyc_at is not None:
        events.append(kyc(name, kyc_at))
    return events


def flag(n: int, kind: str, action: str) -> CommissionFlag:
    return CommissionFlag(flag_id=f"flag-p{n}", person_id=f"brand-a:p{n}", affiliate_id="aff-1",
                          kind=kind, action=action, reason="crafted", caused_by=[f"case-{n}"],
                          flagged_at=at(3 * DAY))


EXPECTED = {
    "p1": ("qualified", [], "30.00"),
    "p2": ("pending", ["ftd_below_minimum"], "0.00"),
    "p3": ("pending", ["kyc_missing"], "0.00"),
    "p4": ("pending", ["outside_window"], "0.00"),
    "p5": ("qualified", ["monthly_cap"], "0.00"),
    "p6": ("reversed", ["chargeback"], "0.00"),
    "p7": ("held", ["fraud_hold"], "0.00"),
    "p8": ("held", ["duplicate_account", "fraud_hold"], "0.00"),
    "p9": ("reversed", ["fraud_clawback", "self_excluded"], "0.00"),
}


def events() -> list[Any]:
    out: list[Any] = []
    out += player(1, "50.00", 20)
    out += player(2, "10.00", 20)
    out += player(3, "50.00", None)
    out += player(4, "50.00", 31 * DAY)
    out += player(5, "50.00", 2 * DAY)  # the last of aff-1's November qualifications
    for n in (6, 7, 8, 9, 10):
        out += player(n, "50.00", 20 + n)
    out.append(Chargeback(event_id="ev-cb-t6", occurred_at=at(DAY), brand_id="brand-a",
                          source="psp", player_id="p6", chargeback_id="cb6", transaction_id="t6",
                          amount=Decimal("50.00"), currency="EUR"))
    out.append(Consent(event_id="ev-consent-p10", occurred_at=at(40), brand_id="brand-a",
                       source="crm", player_id="p10", purpose="affiliate_data_sharing",
                       granted=False))
    out += player(11, "50.00", 20, affiliate="aff-2")
    return out


def test_each_player_shows_why_through_the_affiliate_api(settings, codec, start_role) -> None:
    settings = settings.model_copy(update={"plans": PLANS})
    for args in (("worker",), ("sink", "clickhouse"), ("sink", "postbacks")):
        start_role(*args, role_settings=settings)
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all(events())
        for n, kind, action in ((7, "velocity", "hold"), (8, "duplicate_account", "hold"),
                                (9, "self_excluded", "clawback")):
            producer.send_record(Topic.COMMISSION_FLAGS, "aff-1", flag(n, kind, action))
    key = settings.pseudonym_key.get_secret_value().encode()
    names = {player_token(key, "aff-1", f"brand-a:p{n}"): f"p{n}" for n in range(1, 11)}

    ctx = IngressContext.from_settings(settings)
    ctx._producer = AckingProducer()  # type: ignore[assignment]
    _, one = ctx.keys.create("affiliate", affiliate_id="aff-1")
    _, two = ctx.keys.create("affiliate", affiliate_id="aff-2")
    _, admin = ctx.keys.create("admin")
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    _, analyst = ctx.keys.create("analyst", brand_id="brand-a")

    def bearer(secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    with TestClient(create_service(settings, ctx)) as api:

        def players(secret: str = one, **params: Any) -> dict[str, Any] | None:
            try:
                r = api.get("/v1/affiliate/players", params=params, headers=bearer(secret))
            except httpx.TransportError:
                return None
            return r.json() if r.status_code == 200 else None  # 503 while the sink starts

        def seen() -> dict[str, tuple[str, list[str], str]] | None:
            answer = players()
            if answer is None:
                return None
            return {names.get(p["player_token"], p["player_token"]):
                    (p["status"], p["reasons"], p["cpa_amount"]) for p in answer["players"]}

        wait_until(lambda: seen() == EXPECTED and (players() or {}).get("totals", {}).get(
            "withheld") == 1, 180, "every player's status and reasons")
        holds_for(lambda: seen() == EXPECTED, "the statuses unchanged")

        answer = players()
        assert answer is not None
        assert answer["totals"] == {"players": 10, "qualified": 3, "pending": 3, "held": 2,
                                    "reversed": 2, "not_attributed": 0, "withheld": 1,
                                    "matching": 9}
        withdrawn = player_token(key, "aff-1", "brand-a:p10")
        assert withdrawn not in str(answer)
        assert "brand-a:p" not in str(answer) and '"p1"' not in str(answer)
        [p1] = [p for p in answer["players"] if names[p["player_token"]] == "p1"]
        assert (p1["campaign_id"], p1["currency"], p1["brand_id"]) == ("camp-1", "EUR", "brand-a")
        assert p1["qualified_at"] == (at(20)).isoformat().replace("+00:00", "Z")

        # the filters and paging
        held = players(reason="fraud_hold")
        assert held is not None and {names[p["player_token"]] for p in held["players"]} == {
            "p7", "p8"}
        pending = players(status="pending", limit=2, offset=1)
        assert pending is not None and pending["totals"]["matching"] == 3
        assert len(pending["players"]) == 2

        # a second affiliate's key sees its own player only; a guessed affiliate_id is refused
        other = players(two)
        assert other is not None
        assert [p["player_token"] for p in other["players"]] == [
            player_token(key, "aff-2", "brand-a:p11")]
        assert other["totals"]["players"] == 1
        for params in ({"affiliate_id": "aff-1"}, {"affiliate_id": "aff-1", "status": "held"}):
            r = api.get("/v1/affiliate/players", params=params, headers=bearer(two))
            assert r.status_code == 403
        r = api.get("/v1/affiliate/postbacks", params={"affiliate_id": "aff-1"},
                    headers=bearer(two))
        assert r.status_code == 403
        for secret in (operator, analyst):
            for route in ("/v1/affiliate/players", "/v1/affiliate/postbacks"):
                r = api.get(route, params={"affiliate_id": "aff-1"}, headers=bearer(secret))
                assert r.status_code == 403
        for route in ("/v1/affiliate/players", "/v1/affiliate/postbacks"):
            assert api.get(route, params={"affiliate_id": "aff-1"}).status_code == 401
        by_admin = players(admin, affiliate_id="aff-1")
        assert by_admin is not None and by_admin["totals"] == answer["totals"]

        # the affiliate's postback endpoint (its configured postback_url) and the postbacks
        # delivered to it: its own only, aff-2's (p11's registration and FTD) not
        def postbacks(secret: str) -> dict[str, Any]:
            r = api.get("/v1/affiliate/postbacks", headers=bearer(secret))
            assert r.status_code == 200, r.text
            return dict(r.json())

        # p1..p10 each a registration and an FTD (p10's may have been stopped by its consent
        # withdrawal if it came first: a suppression is never listed)
        wait_until(lambda: len(postbacks(one)["deliveries"]) >= 18, 60, "aff-1's deliveries")
        holds_for(lambda: len(postbacks(one)["deliveries"]) in (18, 20), "aff-1's deliveries")
        body = postbacks(one)
        assert [e["endpoint_id"] for e in body["endpoints"]] == ["aff-1-default"]
        assert {d["endpoint_id"] for d in body["deliveries"]} == {"aff-1-default"}
        assert {(d["event"], d["status"], d["http_status"]) for d in body["deliveries"]} == {
            ("registration", "delivered", 200), ("ftd", "delivered", 200)}
        newest = max(d["last_attempt_at"] for d in body["deliveries"])
        r = api.get("/v1/affiliate/postbacks", params={"since": newest}, headers=bearer(one))
        assert r.status_code == 200, r.text
        assert {d["last_attempt_at"] for d in r.json()["deliveries"]} == {newest}
        assert [(d["event"], d["endpoint_id"]) for d in postbacks(two)["deliveries"]] in (
            [("ftd", "aff-2-default"), ("registration", "aff-2-default")],
            [("registration", "aff-2-default"), ("ftd", "aff-2-default")])

    # the statements' "On hold": aff-1 has held players, aff-2 none
    assert on_hold_affiliates(settings) == {"aff-1"}

