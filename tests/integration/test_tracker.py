"""The click tracker against the real broker: redirects, the Click on the topic, refusals, the
admin API over a restart, the collect endpoint and `clickpath links`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from clickpath.connectors.catalogue import CatalogueStore
from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service, server_config
from clickpath.connectors.tracker import LINK_PARAMS
from clickpath.contracts.models import Click, PageView
from clickpath.contracts.topics import Topic
from clickpath.devtools.bench.open_loop import drive
from clickpath.domain.catalogue import CampaignConfig
from clickpath.domain.pseudonym import keyed_hash
from clickpath.domain.tracking import CLICK_ID_RE, click_id_time, new_click_id
from clickpath.infra.broker import free_port
from clickpath.infra.kafka import create_topics
from clickpath.infra.metrics import INGRESS_ACCEPTED, INGRESS_REJECTED
from clickpath.settings import Settings
from tests.integration.conftest import PSEUDONYM_KEY
from tests.integration.harness import ServedApp, read_topic

LANDING = "https://casino.example/welcome?cid={click_id}&s1={sub1}&s2={sub2}"
VISITOR_IP = "203.0.113.77"


def counted(metric, *labels: str) -> float:
    return metric.labels(*labels)._value.get()


@pytest.fixture
def tracker_settings(settings: Settings) -> Settings:
    aff1 = settings.affiliates["aff-1"].model_copy(
        update={
            "campaigns": {
                "spring": CampaignConfig(brand_id="brand-a", landing_url=LANDING, tracking_code="spring1"),
            }
        }
    )
    return settings.with_overrides(
        affiliates={**settings.affiliates, "aff-1": aff1},
        tracker_client_ip_header="X-Forwarded-For",
        tracker_country_header="CF-IPCountry",
        tracker_base_url="https://t.example",
    )


def serve(settings: Settings) -> ServedApp:
    ctx = IngressContext.from_settings(settings)
    served = ServedApp(create_service(settings, ctx))
    served.ctx = ctx
    return served


@pytest.fixture
def tracker(tracker_settings):
    with serve(tracker_settings) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        served.client = client
        yield served


def test_a_click_redirects_exactly_and_lands_pseudonymised(tracker, tracker_settings, codec) -> None:
    accepted = counted(INGRESS_ACCEPTED, "tracker", "click")
    r = tracker.client.get(
        "/c/spring1",
        params={"sub1": "banner 7", "sub2": "a/b&c", "utm_source": "news", "other": "dropped"},
        headers={
            "X-Forwarded-For": VISITOR_IP,
            "CF-IPCountry": "de",
            "Referer": "https://aff.example/r",
            "User-Agent": "TestBrowser/1.0",
            "Cookie": "cp_did=dev-1234-abcd",
        },
    )
    assert r.status_code == 302, r.text
    click_id = parse_qs(urlsplit(r.headers["location"]).query)["cid"][0]
    assert CLICK_ID_RE.match(click_id)
    assert r.headers["location"] == (
        f"https://casino.example/welcome?cid={click_id}&s1=banner%207&s2=a%2Fb%26c&utm_source=news"
    )
    assert r.headers["cache-control"] == "no-store"
    assert counted(INGRESS_ACCEPTED, "tracker", "click") == accepted + 1

    # The query-string form of the same campaign; a later click sorts after the earlier one.
    r2 = tracker.client.get("/c", params={"aff": "aff-1", "campaign": "spring", "sub1": "x"})
    assert r2.status_code == 302, r2.text
    second_id = parse_qs(urlsplit(r2.headers["location"]).query)["cid"][0]
    assert second_id > click_id

    got = {rec.click_id: (msg, rec) for msg, rec in read_topic(tracker_settings, codec, Topic.CLICKS, 2)}
    msg, click = got[click_id]
    assert isinstance(click, Click) and msg.key() == click_id.encode()
    assert click.event_id == f"click-{click_id}" and click.source == "tracker"
    assert (click.brand_id, click.affiliate_id, click.campaign_id, click.tracking_code) == (
        "brand-a",
        "aff-1",
        "spring",
        "spring1",
    )
    assert (click.sub1, click.sub2, click.sub3) == ("banner 7", "a/b&c", None)
    assert click.landing_url == r.headers["location"]
    assert (click.referrer, click.user_agent, click.country, click.device_id) == (
        "https://aff.example/r",
        "TestBrowser/1.0",
        "DE",
        "dev-1234-abcd",
    )
    assert click.ip_hash == keyed_hash(PSEUDONYM_KEY.encode(), "ip", VISITOR_IP)
    assert click.ip_prefix == "203.0.0.0/16"
    assert VISITOR_IP.encode() not in msg.value() and VISITOR_IP not in click.model_dump_json()
    assert abs((click.occurred_at - click_id_time(click_id)).total_seconds()) < 1
    _, query_click = got[second_id]
    assert query_click.sub1 == "x" and query_click.tracking_code == "spring1"
    assert query_click.ip_prefix == "127.0.0.0/16", "no proxy header: the TCP peer is the visitor"


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/c/nope", {}, "unknown_tracking_code"),
        ("/c/<script>alert(1)</script>", {}, "unknown_tracking_code"),
        ("/c", {"aff": "ghost", "campaign": "spring"}, "unknown_affiliate"),
        ("/c", {"aff": "aff-1", "campaign": "ghost"}, "unknown_campaign"),
        ("/c", {}, "unknown_affiliate"),
    ],
)
def test_unknown_links_get_a_404_page_and_are_counted(tracker, path, params, reason) -> None:
    before = counted(INGRESS_REJECTED, "tracker", reason)
    r = tracker.client.get(path, params=params)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1>Link not found</h1>" in r.text
    assert "<script>" not in r.text, "the page must escape what the link said"
    assert counted(INGRESS_REJECTED, "tracker", reason) == before + 1


def test_an_oversize_sub_is_a_400_page_naming_it(tracker) -> None:
    before = counted(INGRESS_REJECTED, "tracker", "bad_link")
    r = tracker.client.get("/c/spring1", params={"sub3": "x" * 3000})
    assert r.status_code == 400 and "sub3" in r.text
    assert counted(INGRESS_REJECTED, "tracker", "bad_link") == before + 1


def test_no_redirect_without_the_brokers_ack(tracker_settings) -> None:
    dead = tracker_settings.with_overrides(
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}", ingress_ack_timeout_ms=500
    )
    before = counted(INGRESS_REJECTED, "tracker", "broker_unavailable")
    with serve(dead) as served:
        r = httpx.get(f"{served.url}/c/spring1", timeout=30)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "location" not in r.headers and "could not be recorded" in r.text
    assert counted(INGRESS_REJECTED, "tracker", "broker_unavailable") == before + 1


def _clicks_spoofing_x_forwarded_for(settings: Settings, clicks: int) -> list[int]:
    """Clicks over real HTTP from 127.0.0.1, each claiming another network in X-Forwarded-For,
    served as `clickpath api` serves (`server_config`, uvicorn's own proxy handling included)."""
    config = server_config(settings.with_overrides(http_port=free_port()))
    with ServedApp(None, config=config) as s, httpx.Client(base_url=s.url, timeout=30) as client:
        return [
            client.get("/c/spring1", headers={"X-Forwarded-For": f"198.51.{i}.23", "CF-IPCountry": "DE",
                                              "User-Agent": "TestBrowser/1.0"}).status_code
            for i in range(clicks)
        ]


def test_a_forwarded_header_is_not_believed_unless_configured(tracker_settings, codec) -> None:
    """Issue 21 item 20: uvicorn trusted X-Forwarded-For from 127.0.0.1 while
    TRACKER_CLIENT_IP_HEADER was unset: rotating it escaped the 429s and the bot screen, and the
    spoofed network was stored. By default the socket peer is the client."""
    tight = tracker_settings.with_overrides(
        tracker_client_ip_header=None, tracker_rate_per_s=0.001, tracker_rate_burst=5,
        bot_click_rate_per_s=0.001, bot_click_burst=3,
    )
    statuses = _clicks_spoofing_x_forwarded_for(tight, 8)
    assert statuses == [302] * 5 + [429] * 3, statuses
    clicks = sorted((rec for _, rec in read_topic(tight, codec, Topic.CLICKS, 5)), key=lambda c: c.click_id)
    assert {c.ip_prefix for c in clicks} == {"127.0.0.0/16"}, "the spoofed network was stored"
    assert [c.bot_reason for c in clicks] == [None] * 3 + ["click_rate"] * 2
    assert {c.country for c in clicks} == {"DE"}, "loopback is trusted by default"

    # The header set, but the peer is none of the trusted proxies: still the peer.
    untrusted = tight.with_overrides(
        tracker_client_ip_header="X-Forwarded-For", tracker_trusted_proxies=["10.0.0.0/8"],
        topic_prefix=f"{tight.topic_prefix}u",
    )
    create_topics(untrusted)
    assert _clicks_spoofing_x_forwarded_for(untrusted, 6) == [302] * 5 + [429]
    again = [rec for _, rec in read_topic(untrusted, codec, Topic.CLICKS, 5)]
    assert {c.ip_prefix for c in again} == {"127.0.0.0/16"}
    assert {c.country for c in again} == {None}, "the geo header was believed from any peer"

    # Review 21 item 5c: no proxy listed ([], the old default) believed the header from any peer.
    nobody = untrusted.with_overrides(tracker_trusted_proxies=[], topic_prefix=f"{tight.topic_prefix}n")
    create_topics(nobody)
    assert _clicks_spoofing_x_forwarded_for(nobody, 6) == [302] * 5 + [429]
    none_trusted = [rec for _, rec in read_topic(nobody, codec, Topic.CLICKS, 5)]
    assert {c.ip_prefix for c in none_trusted} == {"127.0.0.0/16"}
    assert {c.country for c in none_trusted} == {None}


def test_the_served_click_routes_keep_what_the_document_lists(tracker) -> None:
    """The clicks are served by plain routes ahead of FastAPI's (the hot path); the documented
    ones must describe them: the same kept parameters, GET only."""
    spec = tracker.client.get("/openapi.json").json()
    by_code = spec["paths"]["/c/{tracking_code}"]
    by_ids = spec["paths"]["/c"]
    assert set(by_code) == set(by_ids) == {"get"}
    assert {p["name"] for p in by_code["get"]["parameters"]} == {"tracking_code", *LINK_PARAMS}
    assert {p["name"] for p in by_ids["get"]["parameters"]} == {"aff", "campaign", *LINK_PARAMS}

    accepted = counted(INGRESS_ACCEPTED, "tracker", "click")
    head = tracker.client.head("/c/spring1")
    assert head.status_code == 405 and "location" not in head.headers, "a HEAD is no click"
    assert counted(INGRESS_ACCEPTED, "tracker", "click") == accepted

    r = tracker.client.get("/c/spring1?sub1=first&sub1=last&sub2=&utm_term=t")
    assert r.status_code == 302
    location = r.headers["location"]
    assert "s1=last&s2=&" in location and location.endswith("&utm_term=t"), location


def test_the_open_loop_driver_counts_every_answer_it_checks(tracker) -> None:
    """The benchmark's driver (bench/open_loop.py) against the real tracker: each scheduled
    click answered and timed, and an answer that is not the redirect counted as a failure."""
    link = f"{tracker.url}/c/spring1?sub1=bench"
    clicks = asyncio.run(drive(link, rate=100, seconds=1, connections=4))
    assert clicks["requests"] == 100 and clicks["failures"] == {}
    assert 0 < clicks["p50_ms"] <= clicks["p99_ms"] <= clicks["max_ms"]

    missing = asyncio.run(drive(f"{tracker.url}/c/nope", rate=50, seconds=1, connections=2))
    assert missing["requests"] == 0 and missing["failures"] == {"404": 50}


# --- the admin API --------------------------------------------------------------------------------


def test_admin_changes_are_effective_at_once_and_survive_a_restart(tracker_settings) -> None:
    new_landing = "https://poker.example/join?c={click_id}&a={affiliate_id}"
    with serve(tracker_settings) as served:
        _, secret = served.ctx.keys.create("admin")
        admin = httpx.Client(base_url=served.url, timeout=30, headers={"Authorization": f"Bearer {secret}"})
        r = admin.put("/v1/admin/affiliates/aff-new", json={"name": "New Partner"})
        assert r.status_code == 201, r.text
        assert r.json() == {
            "affiliate_id": "aff-new",
            "name": "New Partner",
            "postback_url": None,
            "postback_events": ["registration", "ftd"],
            "parent_id": None,
            "payout_currency": None,
            "min_payout": None, "legal_name": "", "address": "", "country": None, "vat_id": None,
            "vat_reverse_charge": False,
            "campaigns": [],
        }
        assert admin.put("/v1/admin/affiliates/aff-new", json={"name": "New"}).status_code == 200

        campaign = {"brand_id": "brand-p", "landing_url": new_landing, "tracking_code": "poker1"}
        r = admin.put("/v1/admin/affiliates/aff-new/campaigns/poker", json=campaign)
        assert r.status_code == 201, r.text
        assert r.json()["url"] == "https://t.example/c/poker1"
        r = httpx.get(f"{served.url}/c/poker1")
        assert r.status_code == 302
        assert r.headers["location"].startswith("https://poker.example/join?c=")
        assert r.headers["location"].endswith("&a=aff-new")

        # Change the landing URL: the very next click lands there.
        r = admin.patch(
            "/v1/admin/affiliates/aff-new/campaigns/poker",
            json={"landing_url": "https://poker.example/v2?c={click_id}"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["landing_url"] == "https://poker.example/v2?c={click_id}"
        assert (
            httpx.get(f"{served.url}/c/poker1").headers["location"].startswith("https://poker.example/v2?c=")
        )

        # A configured campaign can be changed too; its other fields stay.
        r = admin.patch(
            "/v1/admin/affiliates/aff-1/campaigns/spring",
            json={"landing_url": "https://casino.example/v2?cid={click_id}"},
        )
        assert r.status_code == 200 and r.json()["tracking_code"] == "spring1"

        # Refusals name the field.
        r = admin.put(
            "/v1/admin/affiliates/aff-new/campaigns/dup", json={**campaign, "tracking_code": "spring1"}
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "tracking_code"]
        r = admin.put(
            "/v1/admin/affiliates/aff-new/campaigns/bad",
            json={**campaign, "tracking_code": None, "landing_url": "https://x.example/{nope}"},
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "landing_url"]
        r = admin.put("/v1/admin/affiliates/aff-new/campaigns/bad", json={"landing_url": new_landing})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "brand_id"]
        r = admin.put("/v1/admin/affiliates/aff-new/campaigns/has%20space", json=campaign)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "campaign_id"]
        r = admin.patch("/v1/admin/affiliates/aff-new/campaigns/poker", json={"brand_id": None})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "brand_id"]
        r = admin.put("/v1/admin/affiliates/aff-new", json={"postback_url": "https://x.example/"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "postback_url"]
        r = admin.put("/v1/admin/affiliates/ghost/campaigns/c", json=campaign)
        assert r.status_code == 404
        admin.close()

    assert tracker_settings.catalogue_path.exists()
    with serve(tracker_settings) as served:  # a fresh process' view: only the file carries it
        location = httpx.get(f"{served.url}/c/poker1").headers["location"]
        assert location.startswith("https://poker.example/v2?c=")
        location = httpx.get(f"{served.url}/c/spring1").headers["location"]
        assert location.startswith("https://casino.example/v2?cid=")
        _, secret = served.ctx.keys.create("admin")
        listed = httpx.get(
            f"{served.url}/v1/admin/affiliates", headers={"Authorization": f"Bearer {secret}"}
        ).json()["affiliates"]
        by_id = {a["affiliate_id"]: a for a in listed}
        assert by_id["aff-new"]["name"] == "New"
        assert [c["campaign_id"] for c in by_id["aff-new"]["campaigns"]] == ["poker"]
        assert by_id["aff-2"]["campaigns"] == []


def test_a_change_written_by_another_process_reaches_the_running_tracker(tracker, tracker_settings) -> None:
    assert tracker.client.get("/c/other1").status_code == 404
    # Another service process (or worker) writes the file; this one sees it on the next click.
    other = CatalogueStore(tracker_settings.catalogue_path, tracker_settings.affiliates)
    other.put_campaign(
        "aff-2",
        "other",
        CampaignConfig(
            brand_id="brand-b", landing_url="https://other.example/?c={click_id}", tracking_code="other1"
        ),
    )
    r = tracker.client.get("/c/other1")
    assert r.status_code == 302 and r.headers["location"].startswith("https://other.example/?c=")


def test_the_admin_api_needs_an_admin_key(tracker) -> None:
    campaign = {"brand_id": "b", "landing_url": LANDING}
    path = "/v1/admin/affiliates/aff-1/campaigns/x"
    assert tracker.client.put(path, json=campaign).status_code == 401
    assert tracker.client.get("/v1/admin/affiliates").status_code == 401
    bad = {"Authorization": "Bearer cpk_nope_nope"}
    assert tracker.client.get("/v1/admin/affiliates", headers=bad).status_code == 401
    _, operator = tracker.ctx.keys.create("operator", brand_id="brand-a")
    r = tracker.client.put(path, json=campaign, headers={"Authorization": f"Bearer {operator}"})
    assert r.status_code == 403
    assert tracker.client.get("/c/x").status_code == 404, "nothing was added"


def test_links_lists_configured_and_admin_added_campaigns(tracker, tracker_settings) -> None:
    _, secret = tracker.ctx.keys.create("admin")
    r = tracker.client.put(
        "/v1/admin/affiliates/aff-2/campaigns/live",
        json={"brand_id": "brand-b", "landing_url": "https://live.example/?c={click_id}"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 201, r.text

    def links(fmt: str) -> str:
        env = {**os.environ, **tracker_settings.to_env()}
        done = subprocess.run(
            [sys.executable, "-m", "clickpath.run.cli", "links", "--format", fmt],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    rows = json.loads(links("json"))
    assert rows == [
        {
            "url": "https://t.example/c/spring1",
            "query_url": "https://t.example/c?aff=aff-1&campaign=spring",
            "affiliate_id": "aff-1",
            "affiliate_name": "One",
            "campaign_id": "spring",
            "brand_id": "brand-a",
            "tracking_code": "spring1",
            "landing_url": LANDING,
        },
        {
            "url": "https://t.example/c?aff=aff-2&campaign=live",
            "query_url": "https://t.example/c?aff=aff-2&campaign=live",
            "affiliate_id": "aff-2",
            "affiliate_name": "Two",
            "campaign_id": "live",
            "brand_id": "brand-b",
            "tracking_code": None,
            "landing_url": "https://live.example/?c={click_id}",
        },
    ]
    table = links("table")
    assert "https://t.example/c/spring1" in table and "brand-b" in table


# --- the collect endpoint (the web SDK's; the browser test drives it for real) -----------------


def test_collect_records_a_page_view_from_a_landing_origin(tracker, tracker_settings, codec) -> None:
    r = tracker.client.get("/c/spring1", headers={"X-Forwarded-For": VISITOR_IP})
    click_id = parse_qs(urlsplit(r.headers["location"]).query)["cid"][0]
    origin = {"Origin": "https://casino.example"}

    preflight = tracker.client.options(
        "/v1/collect",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://casino.example"

    body = {
        "click_id": click_id,
        "viewport": "large",
        "language": "de-DE",
        "platform": "Linux x86_64",
        "page_url": f"https://casino.example/welcome?cid=x&click_id={click_id}&email=ann%40example.com",
        "referrer": "https://aff.example/review?id=9",
        "device_id": "dev-1234-abcd",
        "future": 1,
    }
    r = tracker.client.post(
        "/v1/collect",
        content=json.dumps(body),
        headers={**origin, "Content-Type": "text/plain", "X-Forwarded-For": VISITOR_IP},
    )
    assert r.status_code == 202, r.text
    assert r.headers["access-control-allow-origin"] == "https://casino.example"

    [(msg, view)] = read_topic(tracker_settings, codec, Topic.PAGE_VIEWS, 1)
    assert isinstance(view, PageView) and msg.key() == click_id.encode()
    assert (view.click_id, view.brand_id, view.source) == (click_id, "brand-a", "sdk")
    assert view.page_url == f"https://casino.example/welcome?click_id={click_id}"
    assert view.referrer == "https://aff.example/review"
    assert (view.viewport, view.language, view.platform, view.device_id) == (
        "large",
        "de-DE",
        "Linux x86_64",
        "dev-1234-abcd",
    )
    assert view.ip_prefix == "203.0.0.0/16" and VISITOR_IP.encode() not in msg.value()


def test_collect_refuses_one_brands_click_or_page_under_another_brands_origin(tracker_settings) -> None:
    """Issue 21 item 26: a click id and page of brand A were recorded under brand B's Origin."""
    other = CampaignConfig(brand_id="brand-b", landing_url="https://slots.example/in?c={click_id}")
    aff2 = tracker_settings.affiliates["aff-2"].model_copy(update={"campaigns": {"slots": other}})
    settings = tracker_settings.with_overrides(affiliates={**tracker_settings.affiliates, "aff-2": aff2})
    rejected = counted(INGRESS_REJECTED, "collect", "cross_brand")
    with serve(settings) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        r = client.get("/c/spring1")  # brand-a's link
        click_id = parse_qs(urlsplit(r.headers["location"]).query)["cid"][0]
        b_origin = {"Origin": "https://slots.example"}

        r = client.post("/v1/collect", content=json.dumps({"click_id": click_id}), headers=b_origin)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "click_id"]
        assert "another brand" in r.json()["detail"][0]["msg"]
        assert counted(INGRESS_REJECTED, "collect", "cross_brand") == rejected + 1

        page = {"click_id": new_click_id(), "page_url": "https://casino.example/welcome"}
        r = client.post("/v1/collect", content=json.dumps(page), headers=b_origin)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "page_url"]

        ok = {"click_id": click_id, "page_url": "https://casino.example/welcome"}
        r = client.post("/v1/collect", content=json.dumps(ok), headers={"Origin": "https://casino.example"})
        assert r.status_code == 202, r.text


@pytest.mark.parametrize(
    ("origin", "body", "status", "field"),
    [
        ("https://evil.example", {"click_id": "01KAAAAAAAAAAAAAAAAAAAAAAA"}, 403, None),
        (None, {"click_id": "01KAAAAAAAAAAAAAAAAAAAAAAA"}, 403, None),
        ("https://casino.example", {"click_id": "c-1"}, 422, "click_id"),
        ("https://casino.example", {"click_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, 422, "click_id"),  # 2016
        ("https://casino.example", {"click_id": "NOW", "viewport": "huge"}, 422, "viewport"),
        ("https://casino.example", {"click_id": "NOW", "language": "<b>"}, 422, "language"),
        ("https://casino.example", "not json", 422, None),
        ("https://casino.example", "x" * 10_000, 413, None),
    ],
)
def test_collect_refusals(tracker, origin, body, status, field) -> None:
    if isinstance(body, dict) and body.get("click_id") == "NOW":
        body = {**body, "click_id": new_click_id()}
    headers = {"Origin": origin} if origin else {}
    content = json.dumps(body) if isinstance(body, dict) else body
    r = tracker.client.post("/v1/collect", content=content, headers=headers)
    assert r.status_code == status, r.text
    if status == 403:
        assert "access-control-allow-origin" not in r.headers
    if field:
        assert r.json()["detail"][0]["loc"] == ["body", field]
