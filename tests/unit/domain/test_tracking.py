"""The tracker's pure decisions: click ids, landing URLs, the catalogue, the visitor."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest
from pydantic import ValidationError

from clickpath.contracts.models import utcnow
from clickpath.domain.catalogue import AffiliateConfig, CampaignConfig
from clickpath.domain.landing import origin_of, render_landing_url, validate_landing_template
from clickpath.domain.pseudonym import keyed_hash
from clickpath.domain.tracking import (
    CLICK_ID_RE,
    Catalogue,
    LinkError,
    click_id_time,
    collect_brand,
    country_of,
    fresh_click_id,
    link_params,
    make_click,
    make_page_view,
    new_click_id,
    overlay,
    reduce_url,
    tracking_links,
    trusted_peer,
    visitor_ip,
)
from clickpath.settings import Settings

KEY = b"unit-key"
LANDING = "https://casino.example/welcome?cid={click_id}&s1={sub1}&s2={sub2}"


def campaign(**extra) -> CampaignConfig:
    return CampaignConfig(**{"brand_id": "brand-a", "landing_url": LANDING, **extra})


AFFILIATES = {
    "aff-1": AffiliateConfig(
        name="One",
        campaigns={
            "spring": campaign(tracking_code="spring1"),
            "plain": campaign(landing_url="https://other.example:8443/p?c={click_id}", brand_id="brand-b"),
        },
    ),
    "aff-2": AffiliateConfig(name="Two"),
}


# --- click ids ----------------------------------------------------------------------------------


def test_click_ids_are_unique_and_sort_in_minting_order() -> None:
    ids = [new_click_id() for _ in range(20_000)]  # many share a millisecond
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids), "a later click must sort after an earlier one"
    assert all(CLICK_ID_RE.match(i) for i in ids[:100])


def test_a_click_id_tells_when_it_was_minted() -> None:
    before = utcnow()
    minted = click_id_time(new_click_id())
    assert minted is not None and before - timedelta(milliseconds=1) <= minted <= utcnow()
    assert click_id_time("not-a-ulid") is None
    assert click_id_time("c-123") is None


def test_fresh_click_ids_are_ours_and_recent() -> None:
    now = utcnow()
    assert fresh_click_id(new_click_id(), now, timedelta(days=30))
    old = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # 2016
    assert not fresh_click_id(old, now, timedelta(days=30))
    assert not fresh_click_id("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", now, timedelta(days=30))  # the future
    assert not fresh_click_id("hello", now, timedelta(days=30))


# --- landing URLs -------------------------------------------------------------------------------


def test_landing_url_macros_are_filled_url_encoded_and_utm_appended() -> None:
    url = render_landing_url(
        LANDING,
        {"click_id": "01K", "sub1": "a b&c=d", "sub2": "x/y?"},
        {"utm_source": "news letter", "utm_medium": "email"},
    )
    assert url == (
        "https://casino.example/welcome?cid=01K&s1=a%20b%26c%3Dd&s2=x%2Fy%3F"
        "&utm_source=news+letter&utm_medium=email"
    )


def test_missing_subs_are_empty_and_the_campaigns_own_utm_wins() -> None:
    template = "https://b.example/l?utm_source=partner&c={click_id}&s={sub3}#top"
    url = render_landing_url(template, {"click_id": "01K"}, {"utm_source": "x", "utm_term": "t"})
    assert url == "https://b.example/l?utm_source=partner&c=01K&s=&utm_term=t#top"
    assert (
        render_landing_url("https://b.example/", {}, {"utm_source": "x"}) == "https://b.example/?utm_source=x"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("ftp://x.example/{click_id}", "http:// or https://"),
        ("https://x.example/?c={clickid}", "unknown landing URL macro"),
        ("https:///nohost", "no host"),
    ],
)
def test_bad_landing_templates_are_refused(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_landing_template(template)


def test_origin_of_matches_what_a_browser_sends() -> None:
    assert origin_of("https://Casino.example/w?x=1") == "https://casino.example"
    assert origin_of("https://casino.example:443/w") == "https://casino.example"
    assert origin_of("http://localhost:8080/landing") == "http://localhost:8080"
    assert origin_of("mailto:x@example.com") is None


# --- settings and catalogue ----------------------------------------------------------------------


def test_campaigns_in_configuration_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CLICKPATH_AFFILIATES",
        '{"a": {"campaigns": {"c": {"brand_id": "b", '
        '"landing_url": "https://x.example/?c={click_id}", "tracking_code": "ac"}}}}',
    )
    assert Settings().affiliates["a"].campaigns["c"].tracking_code == "ac"
    with pytest.raises(ValidationError, match="tracking codes must be unique"):
        Settings(
            affiliates={
                "a": AffiliateConfig(campaigns={"c": campaign(tracking_code="x")}),
                "b": AffiliateConfig(campaigns={"d": campaign(tracking_code="x")}),
            }
        )
    with pytest.raises(ValidationError, match="campaign id"):
        AffiliateConfig(campaigns={"bad id": campaign()})
    with pytest.raises(ValidationError, match="brand_id"):
        CampaignConfig(brand_id="", landing_url=LANDING)
    with pytest.raises(ValidationError, match="landing_url"):
        CampaignConfig(brand_id="b", landing_url="https://x.example/?c={nope}")


def test_links_resolve_by_code_and_by_ids() -> None:
    catalogue = Catalogue.build(AFFILIATES)
    link = catalogue.link_by_code("spring1")
    assert (link.affiliate_id, link.campaign_id, link.campaign.brand_id) == ("aff-1", "spring", "brand-a")
    assert catalogue.link_by_ids("aff-1", "plain").campaign.brand_id == "brand-b"
    for call, reason in [
        (lambda: catalogue.link_by_code("nope"), "unknown_tracking_code"),
        (lambda: catalogue.link_by_ids("ghost", "spring"), "unknown_affiliate"),
        (lambda: catalogue.link_by_ids("aff-2", "spring"), "unknown_campaign"),
        (lambda: catalogue.link_by_ids(None, None), "unknown_affiliate"),
    ]:
        with pytest.raises(LinkError) as e:
            call()
        assert e.value.reason == reason


def test_admin_changes_overlay_configuration() -> None:
    stored = {
        "aff-1": {
            "campaigns": {
                "spring": {
                    "brand_id": "brand-a",
                    "landing_url": "https://new.example/?c={click_id}",
                    "tracking_code": "spring1",
                }
            }
        },
        "aff-2": {"name": "Two renamed"},
        "aff-3": {
            "name": "Three",
            "campaigns": {"x": {"brand_id": "brand-c", "landing_url": "https://c.example/"}},
        },
    }
    merged = overlay(AFFILIATES, stored)
    assert merged["aff-1"].name == "One", "fields the admin did not set stay configured"
    assert merged["aff-1"].campaigns["spring"].landing_url.startswith("https://new.example")
    assert "plain" in merged["aff-1"].campaigns, "configured campaigns stay"
    assert merged["aff-2"].name == "Two renamed"
    assert merged["aff-3"].campaigns["x"].brand_id == "brand-c"
    assert AFFILIATES["aff-1"].campaigns["spring"].landing_url == LANDING, "configuration untouched"


def test_tracking_links_list_every_campaign() -> None:
    rows = tracking_links(Catalogue.build(AFFILIATES), "https://t.example/")
    assert [(r["affiliate_id"], r["campaign_id"]) for r in rows] == [("aff-1", "plain"), ("aff-1", "spring")]
    plain, spring = rows
    assert spring["url"] == "https://t.example/c/spring1"
    assert plain["url"] == plain["query_url"] == "https://t.example/c?aff=aff-1&campaign=plain"
    assert spring["landing_url"] == LANDING and spring["brand_id"] == "brand-a"


def test_the_collecting_pages_brand_comes_from_its_origin() -> None:
    catalogue = Catalogue.build(AFFILIATES)
    assert collect_brand(catalogue, "https://casino.example", None) == "brand-a"
    assert collect_brand(catalogue, "https://other.example:8443", "brand-b") == "brand-b"
    with pytest.raises(LinkError, match="no landing page"):
        collect_brand(catalogue, "https://casino.example", "brand-b")
    with pytest.raises(LinkError) as e:
        collect_brand(catalogue, "https://evil.example", None)
    assert e.value.field == "origin"
    with pytest.raises(LinkError, match="several brands"):
        collect_brand(catalogue, "https://www.example", None, extra_origins=("https://www.example",))
    assert collect_brand(catalogue, "https://www.example", "brand-b", ("https://www.example",)) == "brand-b"


# --- the visitor --------------------------------------------------------------------------------


PROXY = (ipaddress.ip_network("10.0.0.0/8"),)


def test_visitor_ip_trusts_the_proxy_header_only_as_configured() -> None:
    assert visitor_ip("198.51.100.1", None, trusted=PROXY) == "198.51.100.1"
    assert visitor_ip("10.0.0.2", "203.0.113.9", trusted=PROXY) == "203.0.113.9"
    spoofed = "1.2.3.4, 203.0.113.9"  # the client wrote 1.2.3.4; our proxy appended what it saw
    assert visitor_ip("10.0.0.2", spoofed, hops=1, trusted=PROXY) == "203.0.113.9"
    assert visitor_ip("10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.3", hops=2, trusted=PROXY) == "203.0.113.9"
    assert visitor_ip("testclient", None) is None
    assert visitor_ip("10.0.0.2", "garbage", trusted=PROXY) is None
    assert visitor_ip("::1", None) == "::1"


def test_no_trusted_proxy_means_no_forwarded_header_and_the_default_is_loopback() -> None:
    """Review 21 item 5c: TRACKER_TRUSTED_PROXIES=[] (the old default) believed the header from
    any peer, so a client reaching the service directly chose its own address."""
    assert visitor_ip("198.51.100.1", "203.0.113.9") == "198.51.100.1"
    assert visitor_ip("198.51.100.1", "203.0.113.9", trusted=()) == "198.51.100.1"
    default = Settings().trusted_proxy_networks
    assert default == (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    assert visitor_ip("127.0.0.1", "203.0.113.9", trusted=default) == "203.0.113.9"
    assert visitor_ip("::1", "203.0.113.9", trusted=default) == "203.0.113.9"
    assert visitor_ip("::ffff:127.0.0.1", "203.0.113.9", trusted=default) == "203.0.113.9"
    assert visitor_ip("10.0.0.2", "203.0.113.9", trusted=default) == "10.0.0.2"
    assert visitor_ip("198.51.100.1", "203.0.113.9", trusted=default) == "198.51.100.1"
    assert not trusted_peer("testclient", default) and trusted_peer("127.8.9.1", default)


def test_a_header_shorter_than_the_proxy_hops_leaves_the_peer() -> None:
    """Review 21 item 5b: with fewer entries than TRACKER_PROXY_HOPS, none was written by one of
    our proxies; the leftmost one, which was taken, is the client's to choose."""
    assert visitor_ip("10.0.0.2", "203.0.113.9", hops=3, trusted=PROXY) == "10.0.0.2"
    assert visitor_ip("10.0.0.2", "1.2.3.4, 203.0.113.9", hops=3, trusted=PROXY) == "10.0.0.2"
    assert visitor_ip("10.0.0.2", " , ", hops=1, trusted=PROXY) == "10.0.0.2"
    assert visitor_ip("10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.3", hops=3, trusted=PROXY) == "1.2.3.4"


def test_country_comes_only_from_a_plausible_code() -> None:
    assert country_of("de") == "DE"
    assert country_of("XX") is None and country_of("T1") is None and country_of(None) is None
    assert country_of("Germany") is None


def test_only_subs_and_utm_pass_from_the_link() -> None:
    subs, utm = link_params({"sub1": "a", "sub2": "", "utm_source": "s", "redirect": "https://evil"})
    assert subs == {"sub1": "a"} and utm == {"utm_source": "s"}


def test_page_urls_lose_everything_but_attribution_parameters() -> None:
    url = "https://casino.example/welcome?click_id=01K&email=ann%40example.com&utm_source=n&s=t#frag"
    assert reduce_url(url) == "https://casino.example/welcome?click_id=01K&utm_source=n"
    assert reduce_url(url, keep=()) == "https://casino.example/welcome"
    assert reduce_url("javascript:alert(1)") is None


def test_a_click_carries_pseudonyms_never_the_ip() -> None:
    link = Catalogue.build(AFFILIATES).link_by_code("spring1")
    now = utcnow()
    click, landing = make_click(
        link,
        "01KAAAAAAAAAAAAAAAAAAAAAAA",
        subs={"sub1": "x y"},
        utm={"utm_source": "n"},
        referrer="https://aff.example/review",
        user_agent="UA",
        ip="203.0.113.9",
        country="DE",
        device_id="dev-12345678",
        pseudonym_key=KEY,
        now=now,
    )
    assert (
        landing == "https://casino.example/welcome?cid=01KAAAAAAAAAAAAAAAAAAAAAAA&s1=x%20y&s2=&utm_source=n"
    )
    assert click.landing_url == landing and click.event_id == "click-01KAAAAAAAAAAAAAAAAAAAAAAA"
    assert (click.brand_id, click.affiliate_id, click.campaign_id, click.source) == (
        "brand-a",
        "aff-1",
        "spring",
        "tracker",
    )
    assert click.ip_hash == keyed_hash(KEY, "ip", "203.0.113.9") and click.ip_prefix == "203.0.0.0/16"
    assert "203.0.113.9" not in click.model_dump_json()


def test_a_link_whose_values_do_not_fit_a_click_is_refused_by_field() -> None:
    link = Catalogue.build(AFFILIATES).link_by_code("spring1")
    with pytest.raises(LinkError) as e:
        make_click(
            link,
            new_click_id(),
            subs={"sub4": "x" * 3000},
            utm={},
            referrer=None,
            user_agent=None,
            ip=None,
            country=None,
            device_id=None,
            pseudonym_key=KEY,
            now=utcnow(),
        )
    assert (e.value.reason, e.value.field) == ("bad_link", "sub4")


def test_a_page_view_is_reduced_and_pseudonymised() -> None:
    view = make_page_view(
        click_id="01KAAAAAAAAAAAAAAAAAAAAAAA",
        brand_id="brand-a",
        page_url="https://casino.example/w?click_id=01K&email=a%40b.c",
        referrer="https://aff.example/x?q=1",
        viewport="small",
        language="de-DE",
        platform="Linux x86_64",
        user_agent="UA",
        device_id="dev-12345678",
        ip="2001:db8::1",
        country=None,
        pseudonym_key=KEY,
        now=utcnow(),
    )
    assert view.page_url == "https://casino.example/w?click_id=01K"
    assert view.referrer == "https://aff.example/x"
    assert view.ip_prefix == "2001:db8::/32" and "2001:db8::1" not in view.model_dump_json()
    assert view.event_id.startswith("pv-") and view.source == "sdk"


def test_the_header_counts_only_from_a_trusted_proxy_when_proxies_are_named() -> None:
    proxies = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))
    assert visitor_ip("10.1.2.3", "203.0.113.9", trusted=proxies) == "203.0.113.9"
    assert visitor_ip("::ffff:10.1.2.3", "203.0.113.9", trusted=proxies) == "203.0.113.9"
    assert visitor_ip("2001:db8::1", "203.0.113.9", trusted=proxies) == "203.0.113.9"
    assert visitor_ip("198.51.100.1", "203.0.113.9", trusted=proxies) == "198.51.100.1"
    assert visitor_ip("testclient", "203.0.113.9", trusted=proxies) is None


def test_a_collected_page_must_be_at_its_origin_and_of_its_clicks_brand() -> None:
    from clickpath.domain.tracking import check_collected_page

    check_collected_page("https://a.example", "https://a.example/p?x=1", "brand-a", "brand-a")
    check_collected_page("https://a.example", None, "brand-a", None)
    with pytest.raises(LinkError) as e:
        check_collected_page("https://b.example", "https://a.example/p", "brand-b", None)
    assert e.value.field == "page_url"
    with pytest.raises(LinkError) as e:
        check_collected_page("https://b.example", None, "brand-b", "brand-a")
    assert e.value.field == "click_id"


def test_personal_data_in_a_link_is_refused_and_in_a_referrer_dropped() -> None:
    """Issue 21 item 22: the tracker is a door too; a sub id is the affiliate's to fix."""
    link = Catalogue.build(AFFILIATES).link_by_code("spring1")
    args = dict(utm={}, user_agent="UA", ip=None, country=None, device_id=None,
                pseudonym_key=KEY, now=utcnow())
    with pytest.raises(LinkError) as e:
        make_click(link, new_click_id(), subs={"sub2": "ann@example.com"}, referrer=None, **args)
    assert e.value.field == "sub2" and e.value.reason == "personal_data"
    click, _ = make_click(link, new_click_id(), subs={}, referrer="https://a.example/u/ann@example.com",
                          **args)
    assert click.referrer is None
    with pytest.raises(LinkError) as e:
        make_page_view(click_id=new_click_id(), brand_id="brand-a",
                       page_url="https://casino.example/p?sub1=%2B44%2020%207946%200958", referrer=None,
                       viewport=None, language=None, platform=None, user_agent=None, device_id=None,
                       ip=None, country=None, pseudonym_key=KEY, now=utcnow())
    assert e.value.field == "page_url"


CRAWLER = ("Mozilla/5.0 (compatible; ExampleBot/2.1; +mailto:ops.bot@example.com; host 203.0.113.9"
           " [2001:db8::9]:443, +44 20 7946 0958) Chrome/120.0.0.0")


def test_a_browsers_headers_keep_no_email_phone_or_ip() -> None:
    """Issue 26: a crawler's user agent named its contact address and host, and the SDK's
    `platform` is whatever a client sends; both reached the topics as sent. They are kept,
    with what looks personal masked (the visitor cannot take them back, so never refused)."""
    link = Catalogue.build(AFFILIATES).link_by_code("spring1")
    masked = ("Mozilla/5.0 (compatible; ExampleBot/2.1; +mailto:[e-mail]; host [ip] [ip], [phone])"
              " Chrome/120.0.0.0")
    click, _ = make_click(link, new_click_id(), subs={}, utm={}, referrer=None, user_agent=CRAWLER,
                          ip=None, country=None, device_id=None, pseudonym_key=KEY, now=utcnow())
    assert click.user_agent == masked
    view = make_page_view(click_id=new_click_id(), brand_id="brand-a", page_url=None, referrer=None,
                          viewport=None, language=None, platform="Linux ops.bot@example.com ::1",
                          user_agent=CRAWLER, device_id=None, ip=None, country=None,
                          pseudonym_key=KEY, now=utcnow())
    assert (view.user_agent, view.platform) == (masked, "Linux [e-mail] [ip]")
