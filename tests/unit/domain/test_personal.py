"""Personal data outside the fields made for it is found under any name (issue 21, item 22)."""

from __future__ import annotations

import pytest

from clickpath.domain.personal import (
    PersonalData,
    find_personal,
    kind_of_value,
    mask_personal,
    refuse_personal,
)


@pytest.mark.parametrize(("value", "kind"), [
    ("raw.person@example.com", "e-mail address"),
    ("write to Ann <ann.b+promo@mail.example.co.uk> today", "e-mail address"),
    ("+44 20 7946 0958", "phone number"),
    ("+1 (555) 123-4567", "phone number"),
    ("198.51.100.23", "IP address"),
    ("from 203.0.113.9, twice", "IP address"),
    ("2001:db8::17", "IP address"),
    ("[2001:db8::17]", "IP address"),
    ("198.51.100.23:443", "IP address"),  # review 21 item 4: a port hid the address
    ("peer [2001:db8::1]:443 closed", "IP address"),
    ("http://198.51.100.23:8080/landing", "IP address"),
    ("http://10.0.0.0/landing", "IP address"),  # a host after //, not a product's version
    ("proxy/198.51.100.23", "IP address"),
    ("Chrome/120.0.0.0 via 198.51.100.23", "IP address"),
])
def test_values_that_look_personal(value, kind) -> None:
    assert kind_of_value(value, "note") == kind


@pytest.mark.parametrize("value", [
    "tx-1234567890", "25.50", "+25.00", "2026-01-05T10:00:00Z", "10:00:00", "slots", "p-42",
    "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.6099.109", "v1.2.3", "",
    "https://casino.example/welcome?click_id=01KAAAAAAAAAAAAAAAAAAAAAAA", "@handle",
    "v1.2.3:443", "build 1.2.3.4567:80", "12:30:45",
    # the reduced user agents every Chrome and Edge send: versions, not addresses
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
])
def test_values_that_do_not(value) -> None:
    assert kind_of_value(value, "note") is None


@pytest.mark.parametrize(("name", "kind"), [
    ("email", "e-mail address"), ("user_email", "e-mail address"), ("e-mail", "e-mail address"),
    ("phone", "phone number"), ("mobile_no", "phone number"), ("msisdn", "phone number"),
    ("tel", "phone number"), ("ip", "IP address"), ("client_ip", "IP address"),
    ("ip_address", "IP address"), ("ipv6", "IP address"),
])
def test_a_name_that_says_personal_is_enough(name, kind) -> None:
    assert kind_of_value("anything", name) == kind
    assert kind_of_value("", name) is None


@pytest.mark.parametrize("name", ["hotel", "tip", "ship_to", "mailing_opt_in", "telegram", "skip"])
def test_names_that_only_contain_the_letters(name) -> None:
    assert kind_of_value("yes", name) is None


def test_nested_attributes_are_named_by_dotted_path_and_allowed_fields_are_left() -> None:
    found = find_personal({"attributes": {"ok": "slots", "x": "ann@example.com"}})
    assert found == PersonalData("attributes.x", "e-mail address")
    assert find_personal({"attributes": {"ann@example.com": "vip"}}) == PersonalData(
        "attributes.ann@example.com", "e-mail address")
    assert find_personal({"email": "ann@example.com", "ip": "198.51.100.1"},
                         allowed=("email", "ip")) is None
    assert find_personal({"attributes": {"email": "a@b.example"}}, allowed=("email",)) is not None
    assert find_personal({"ip_prefix": "198.51.0.0/16", "email_hash": "ab" * 32}) is None
    assert find_personal({"amount": 25, "when": None, "ok": True}) is None
    with pytest.raises(PersonalData, match="player_id: holds what looks like an e-mail"):
        refuse_personal({"player_id": "ann@example.com"})


def test_pseudonym_names_are_skipped_only_at_the_top_level() -> None:
    """Review 21 item 4: `email_hash` or `ip_prefix` inside `attributes` is free text, with no
    Pseudonym/IpPrefix validator behind it, so a raw address under that name must be found."""
    assert find_personal({"attributes": {"email_hash": "raw.person@example.com"}}) == PersonalData(
        "attributes.email_hash", "e-mail address")
    assert find_personal({"attributes": {"ip_prefix": "198.51.100.23"}}) == PersonalData(
        "attributes.ip_prefix", "IP address")
    assert find_personal({"attributes": {"meta": {"phone_hash": "+44 20 7946 0958"}}}) == PersonalData(
        "attributes.meta.phone_hash", "phone number")
    assert find_personal({"attributes": {"player_token": "ann@example.com"}}) is not None
    # at the top level the typed fields' validators check them (contracts/models.py)
    assert find_personal({"email_hash": "ab" * 32, "ip_prefix": "198.51.0.0/16",
                          "attributes": {"tier": "vip"}}) is None


def test_times_and_ids_with_colons_are_not_addresses_but_addresses_still_are() -> None:
    from clickpath.domain.personal import kind_of_value

    for value in ("2026-12-06T21:10:55.123Z", "21:10:55", "order:2026:17", "a.b.c.d"):
        assert kind_of_value(value, "note") is None, value
    for value in ("198.51.100.23", "198.51.100.23:443", "fe80::1", "::ffff:198.51.100.23",
                  "seen at [2001:db8::1]:443 today"):
        assert kind_of_value(value, "note") == "IP address", value


@pytest.mark.parametrize(("text", "masked"), [
    ("write to ann.b+promo@mail.example.co.uk today", "write to [e-mail] today"),
    ("call +44 20 7946 0958.", "call [phone]."),
    ("peers 198.51.100.23:443, [2001:db8::1]:443 and ::ffff:203.0.113.5.",
     "peers [ip], [ip] and [ip]."),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:109.0) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36",
     "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36"),
    ("at 21:10:55, build 10.0.19045, cafe:f00d", "at 21:10:55, build 10.0.19045, cafe:f00d"),
])
def test_mask_personal_replaces_only_what_looks_personal(text, masked) -> None:
    assert mask_personal(text) == masked
    assert kind_of_value(mask_personal(text)) is None
