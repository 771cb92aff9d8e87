"""Pseudonym fields take pseudonyms only: `"email_hash": "bob@example.com"` landed raw in
ClickHouse (issue 13, Medium 8). And the tracker's Referer is reduced as page views' are."""

from __future__ import annotations

import pytest

from clickpath.connectors.ingress import Rejection, parse_event
from clickpath.contracts.models import utcnow
from clickpath.domain.catalogue import CampaignConfig
from clickpath.domain.pseudonym import keyed_hash, pseudonymise_ip
from clickpath.domain.tracking import Link, make_click

KEY = b"k"
GOOD = keyed_hash(KEY, "email", "bob@example.com")


def registration(**fields) -> dict:
    return {"event_type": "registration", "event_id": "r1", "occurred_at": utcnow().isoformat(),
            "brand_id": "b", "player_id": "p1", **fields}


@pytest.mark.parametrize(("field", "value"), [
    ("email_hash", "bob@example.com"),
    ("phone_hash", "+442079460958"),
    ("ip_hash", "203.0.113.9"),
    ("email_hash", GOOD[:-1]),
    ("email_hash", GOOD + "0"),
    ("email_hash", "g" * 64),
    ("ip_prefix", "203.0.113.9"),
    ("ip_prefix", "203.0.113.9/32"),
    ("ip_prefix", "203.0.113.0/25"),
    ("ip_prefix", "2001:db8::1/128"),
    ("ip_prefix", "203.0.113.9/16"),  # host bits set: an address in disguise
    ("ip_prefix", "bob's house"),
])
def test_raw_data_in_a_pseudonym_field_is_refused_by_field(field, value) -> None:
    with pytest.raises(Rejection) as e:
        parse_event(registration(**{field: value}), pseudonym_key=KEY, source="api")
    assert e.value.field == field


def test_pseudonyms_made_by_clickpath_pass() -> None:
    ip_hash, prefix = pseudonymise_ip(KEY, "203.0.113.9")
    event = parse_event(registration(email_hash=GOOD.upper(), phone_hash=GOOD, ip_hash=ip_hash,
                                     ip_prefix=prefix), pseudonym_key=KEY, source="api")
    assert event.email_hash == GOOD  # type: ignore[attr-defined]
    assert parse_event(registration(ip_prefix="203.0.113.0/24"), pseudonym_key=KEY,
                       source="api").ip_prefix == "203.0.113.0/24"  # type: ignore[attr-defined]


def test_the_trackers_referrer_keeps_origin_and_path_only() -> None:
    campaign = CampaignConfig(brand_id="b", landing_url="https://casino.example/?c={click_id}")
    click, _ = make_click(
        Link("a", "c", campaign), "01J00000000000000000000000", subs={}, utm={},
        referrer="https://aff.example/review?email=bob@example.com&session=s3cret#top",
        user_agent=None, ip=None, country=None, device_id=None, pseudonym_key=KEY, now=utcnow(),
    )
    assert click.referrer == "https://aff.example/review"
    for odd in ("android-app://com.example", "not a url"):
        click, _ = make_click(
            Link("a", "c", campaign), "01J00000000000000000000000", subs={}, utm={},
            referrer=odd, user_agent=None, ip=None, country=None, device_id=None,
            pseudonym_key=KEY, now=utcnow(),
        )
        assert click.referrer is None
