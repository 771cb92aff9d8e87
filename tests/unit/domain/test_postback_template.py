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
