"""Landing URLs and postback templates: macros only in the path, query or fragment (no open
redirect, issue 13 Medium 6), and IDN hosts stored in ASCII so that every click can redirect
(Medium 7)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from clickpath.contracts.models import utcnow
from clickpath.domain.catalogue import AffiliateConfig, CampaignConfig
from clickpath.domain.endpoints import Endpoint
from clickpath.domain.landing import normalise_url, render_landing_url, validate_landing_template
from clickpath.domain.postback_template import TemplateError, validate_template
from clickpath.domain.tracking import Link, make_click

HOST_MACROS = [
    "https://casino.example{sub1}/w?c={click_id}",
    "https://{sub1}.casino.example/",
    "https://{sub1}/w",
    "https://casino.example:{sub2}/",
    "https://{sub1}@casino.example/",
    "https://user:{sub1}@casino.example/",
]


@pytest.mark.parametrize("template", HOST_MACROS)
def test_a_macro_before_the_path_is_refused_in_a_landing_url(template) -> None:
    with pytest.raises(ValueError, match="only in the path, query or fragment"):
        validate_landing_template(template)
    with pytest.raises(ValidationError, match="only in the path, query or fragment"):
        CampaignConfig(brand_id="b", landing_url=template)


@pytest.mark.parametrize("template", HOST_MACROS)
def test_a_macro_before_the_path_is_refused_in_a_postback_template(template) -> None:
    with pytest.raises(TemplateError, match="only in the path, query or fragment"):
        validate_template(template)
    with pytest.raises(ValidationError, match="only in the path, query or fragment"):
        AffiliateConfig(postback_url=template)
    with pytest.raises(ValidationError, match="only in the path, query or fragment"):
        Endpoint(endpoint_id="e1", affiliate_id="a", url=template, events=["ftd"])


@pytest.mark.parametrize("template", [
    "https://casino.example/{sub1}/w?c={click_id}#{sub2}",
    "https://casino.example:8443/w?c={click_id}",
    "http://[2001:db8::1]:8080/pb?c={click_id}",
])
def test_macros_in_path_query_and_fragment_pass(template) -> None:
    validate_template(template.replace("{sub2}", "{sub3}"))
    validate_landing_template(template)


def test_a_hostile_value_cannot_move_the_redirect_host() -> None:
    template = validate_landing_template("https://casino.example/w/{sub1}?c={click_id}")
    url = render_landing_url(template, {"sub1": ".evil.example/@x", "click_id": "//evil"})
    assert url.startswith("https://casino.example/w/")


def test_an_idn_landing_host_is_saved_in_ascii() -> None:
    assert validate_landing_template("https://例え.jp/") == "https://xn--r8jz45g.jp/"
    saved = CampaignConfig(brand_id="b", landing_url="https://Bücher.example/wëlcome?c={click_id}")
    assert saved.landing_url == "https://xn--bcher-kva.example/w%C3%ABlcome?c={click_id}"
    assert saved.landing_url.isascii()
    assert normalise_url("https://casino.example/a%20b?x=1") == "https://casino.example/a%20b?x=1"


def test_a_click_on_an_idn_landing_url_redirects_to_ascii() -> None:
    campaign = CampaignConfig(brand_id="b", landing_url="https://例え.jp/?c={click_id}")
    # also a campaign saved raw before this check (model_construct skips the validators)
    raw = CampaignConfig.model_construct(brand_id="b", landing_url="https://例え.jp/ü?c={click_id}",
                                         tracking_code=None)
    for c in (campaign, raw):
        click, url = make_click(Link("a", "c", c), "01J00000000000000000000000", subs={}, utm={},
                                referrer=None, user_agent=None, ip=None, country=None,
                                device_id=None, pseudonym_key=b"k", now=utcnow())
        assert url.isascii() and url.startswith("https://xn--r8jz45g.jp/")
        url.encode("latin-1")  # a Location header can carry it
