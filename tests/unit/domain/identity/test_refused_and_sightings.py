"""The identifier side's input: values that never link, and what each canonical event says."""

from __future__ import annotations

import pytest

from clickpath.contracts.models import Login, Registration
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.identity.refused import DEFAULT_REFUSED, refusal_of
from clickpath.domain.identity.sightings import sightings_of, ua_family
from clickpath.domain.outputs import canonical_of
from tests.factories import T0, at, click

POLICY = IdentityPolicy(operators={"brand-a": "op-1", "brand-b": "op-1", "brand-z": "op-2"})
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
HASH = "a" * 64


@pytest.mark.parametrize("value", [*DEFAULT_REFUSED, "Unknown", "ANONYMOUS", '"null"', "'undefined'",
                                   "  ", "", "000-000", "00000000-0000-0000-0000-000000000000"])
def test_junk_values_never_link(value: str) -> None:
    assert refusal_of(value) is not None


@pytest.mark.parametrize("value", ["dev-7f3a", "d41d8cd98f00b204", "10.1.2.0/24", "Chrome/Windows"])
def test_real_values_link(value: str) -> None:
    assert refusal_of(value) is None


def test_an_operators_own_refused_values_count_too() -> None:
    assert refusal_of(" test-device ", frozenset({"test-device"})) == "operator refused"


def test_a_registration_gives_its_identifiers_within_its_operator() -> None:
    reg = Registration(event_id="ev-r1", occurred_at=at(1), brand_id="brand-b", source="crm",
                       player_id="p1", click_id="c-1", email_hash=HASH, device_id="dev-1",
                       ip_prefix="10.1.2.0/24")
    found = sightings_of(canonical_of(reg, "brand-b:p1", T0), POLICY)
    assert {s.identifier for s in found.sent} == {
        "op-1|click_id|c-1", f"op-1|email_hash|{HASH}", "op-1|device_id|dev-1",
        "op-1|ip_prefix|10.1.2.0/24",
    }
    assert {s.account for s in found.sent} == {"brand-b:p1"}
    assert found.refused == ()


def test_a_login_from_an_unknown_device_is_refused_and_counted_by_kind() -> None:
    login = Login(event_id="ev-l1", occurred_at=at(2), brand_id="brand-z", source="crm",
                  player_id="p9", device_id="unknown", user_agent=CHROME)
    found = sightings_of(canonical_of(login, "brand-z:p9", T0), POLICY)
    assert [s.identifier for s in found.sent] == ["op-2|ua_family|Chrome/Windows"]
    assert found.refused == (("device_id", "refused value"),)


def test_a_click_carries_its_affiliate_for_the_touchpoint() -> None:
    c = click("c-9", affiliate="aff-7", campaign="camp-3", device_id="dev-1")
    found = sightings_of(canonical_of(c, "", T0), POLICY)
    assert {(s.kind, s.account, s.click_id, s.affiliate_id) for s in found.sent} == {
        ("click_id", None, "c-9", "aff-7"), ("device_id", None, "c-9", "aff-7"),
    }


def test_a_deposit_says_nothing_about_identity() -> None:
    from tests.factories import deposit
    assert sightings_of(canonical_of(deposit("p1", "t1", "10"), "brand-a:p1", T0), POLICY).sent == ()


def test_the_user_agent_family_leaves_versions_out() -> None:
    assert ua_family(CHROME) == ua_family(CHROME.replace("120.0.0.0", "121.0.1.2")) == "Chrome/Windows"
    assert ua_family("something nobody parses") is None
