from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from clickpath.contracts.models import Postback
from clickpath.domain.catalogue import AffiliateConfig
from clickpath.domain.postback_template import TemplateError, render_template, validate_template
from clickpath.sinks.delivery.render import postback_values as macro_values


def test_unknown_macro_is_a_configuration_error() -> None:
    with pytest.raises(TemplateError, match=r"unknown postback macro\(s\) \{clickid\}"):
        validate_template("https://aff.example/pb?c={clickid}")
    with pytest.raises(ValueError, match="unknown postback macro"):
        AffiliateConfig(postback_url="https://aff.example/pb?c={nope}")


def test_values_are_url_encoded_and_missing_ones_empty() -> None:
    url = render_template("https://x/pb?c={click_id}&s={sub1}&t={sub2}",
                          {"click_id": "a b&c=d", "sub1": "ü/1", "sub2": None})
    assert url == "https://x/pb?c=a%20b%26c%3Dd&s=%C3%BC%2F1&t="


def test_postback_macros() -> None:
    p = Postback(postback_id="id1", affiliate_id="aff", campaign_id="camp", brand_id="b",
                 event="ftd", click_id="c1", sub1="s1", amount=Decimal("10.5000"), currency="EUR",
                 player_token="tok", transaction_id="t1",
                 occurred_at=datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    url = render_template(
        "https://x/pb?c={click_id}&e={event}&a={amount}&cur={currency}&p={player_token}"
        "&tx={transaction_id}&ts={timestamp}&id={postback_id}", macro_values(p))
    assert url == ("https://x/pb?c=c1&e=ftd&a=10.50&cur=EUR&p=tok&tx=t1&ts=1793534400&id=id1")


# --- issue 21, item 25: what can never be sent is refused at configuration; values in the
# path cannot move the request ----------------------------------------------------------------


@pytest.mark.parametrize(("url", "says"), [
    ("http://xn--/pb?c={click_id}", "url: host 'xn--' is not a valid name (IDNA"),
    ("https://xn--a.example/pb?c={click_id}", "url: host 'xn--a.example' is not a valid name (IDNA"),
    ("http://user:pw@partner.example/pb?c={click_id}", "url: credentials in the URL"),
    ("http://user@partner.example/pb?c={click_id}", "url: credentials in the URL"),
    ("http://a..b.example/pb?c={click_id}", "url: host 'a..b.example' is not a valid name"),
    ("http://partner.example:99999/pb?c={click_id}", "url: port"),
])
def test_a_template_that_can_never_be_sent_is_refused_naming_the_field(url, says) -> None:
    with pytest.raises(TemplateError) as refused:
        validate_template(url)
    assert str(refused.value).startswith(says)


@pytest.mark.parametrize("url", [
    "https://partner.example./pb?c={click_id}",  # fully qualified
    "https://xn--bcher-kva.example/pb?c={click_id}",
    "https://bücher.example/pb?c={click_id}",
    "https://my_host.partner.example/pb",
    "http://[2001:db8::1]:8080/pb",
])
def test_valid_hosts_still_pass(url) -> None:
    validate_template(url)


@pytest.mark.parametrize("value", ["..", ".", "%2e%2e", "%2E%2E", "/", "a/../..", "..%2f.."])
def test_a_path_macro_value_cannot_change_the_path(value) -> None:
    import httpx

    url = render_template("https://partner.example/aff/{sub1}/pb?c={click_id}",
                          {"sub1": value, "click_id": ".."})
    sent = httpx.URL(url)  # as the clients send it: dot segments removed, if there were any
    assert sent.raw_path.startswith(b"/aff/") and sent.raw_path.split(b"?")[0].endswith(b"/pb")
    assert sent.raw_path.split(b"?")[0].count(b"/") == 3  # /aff/<one segment>/pb
    assert sent.params["c"] == ".."  # the query keeps its dots: they move nothing there


def test_dots_of_path_values_are_encoded_but_not_those_of_query_values() -> None:
    url = render_template("https://p.example/{sub1}/x?a={amount}#{sub2}", {"sub1": "1.5", "amount": "1.5",
                                                                         "sub2": "f.g"})
    assert url == "https://p.example/1%2E5/x?a=1.5#f.g"
