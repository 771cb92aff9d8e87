"""The doors during a pseudonym key rotation: the key applying when the event is received, and
in the grace period a registration's e-mail and phone under the previous key too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clickpath.connectors.ingress import parse_event
from clickpath.connectors.postback_in import event_from_postback
from clickpath.contracts.models import Login, Registration
from clickpath.domain.catalogue import CampaignConfig
from clickpath.domain.pseudonym import (
    Keyring,
    PseudonymKey,
    keyed_hash,
    normalise_phone,
    pseudonymise_ip,
)
from clickpath.domain.tracking import Link, make_click

OLD, NEW = b"o" * 32, b"n" * 32
START = datetime(2026, 12, 1, tzinfo=UTC)
RING = Keyring(current=PseudonymKey(2, NEW), previous=(PseudonymKey(1, OLD),), started_at=START,
               grace=timedelta(days=7))
RAW = {"event_type": "registration", "event_id": "r1", "player_id": "p1",
       "email": " Ann@Example.com", "phone": "+44 20 7946-0958", "ip": "198.51.100.7"}


def registration_at(at: datetime, **more: object) -> Registration:
    data = {**RAW, "occurred_at": at.isoformat(), **more}
    event = parse_event(data, pseudonym_key=RING, brand_id="brand-a", source="crm", now=at)
    assert isinstance(event, Registration) and event.received_at == at
    return event


def email(key: bytes, version: int) -> str:
    return keyed_hash(key, "email", "ann@example.com", version)


def phone(key: bytes, version: int) -> str:
    return keyed_hash(key, "phone", normalise_phone("+442079460958"), version)


def test_before_the_start_the_old_key_applies_alone() -> None:
    event = registration_at(START - timedelta(minutes=1))
    assert (event.email_hash, event.phone_hash) == (email(OLD, 1), phone(OLD, 1))
    assert (event.previous_email_hash, event.previous_phone_hash) == (None, None)
    assert event.ip_hash == pseudonymise_ip(OLD, "198.51.100.7")[0]


def test_in_the_grace_period_a_registration_carries_both_versions() -> None:
    event = registration_at(START + timedelta(days=6))
    assert (event.email_hash, event.phone_hash) == (email(NEW, 2), phone(NEW, 2))
    assert event.email_hash.startswith("v2.")
    assert (event.previous_email_hash, event.previous_phone_hash) == (email(OLD, 1), phone(OLD, 1))
    # No previous IP pseudonym: nothing links on ip_hash (the graph uses the prefix).
    assert event.ip_hash == pseudonymise_ip(NEW, "198.51.100.7", 2)[0]
    dumped = event.model_dump_json()
    assert "ann@" not in dumped.lower() and "198.51.100.7" not in dumped


def test_after_the_grace_period_only_the_new_version() -> None:
    event = registration_at(START + timedelta(days=7))
    assert event.email_hash == email(NEW, 2) and event.previous_email_hash is None


def test_a_senders_previous_hash_gives_way_to_the_doors() -> None:
    stale = "f" * 64
    event = registration_at(START + timedelta(days=8), previous_email_hash=stale)
    assert event.previous_email_hash is None
    kept = registration_at(START + timedelta(days=8), email=None, previous_email_hash=stale)
    assert kept.previous_email_hash == stale  # a sender that pseudonymises itself (no raw e-mail)


def test_a_login_and_a_postback_take_the_applying_key_for_their_ip() -> None:
    at = START + timedelta(days=1)
    login = parse_event({"event_type": "login", "event_id": "l1", "player_id": "p1",
                         "occurred_at": at.isoformat(), "ip": "198.51.100.7"},
                        pseudonym_key=RING, brand_id="brand-a", source="crm", now=at)
    assert isinstance(login, Login) and (login.ip_hash or "").startswith("v2.")
    back = event_from_postback("registration", {"player_id": "p9", "email": "ann@example.com"},
                               pseudonym_key=RING, brand_id="brand-a")
    assert isinstance(back, Registration) and back.email_hash is not None


def test_the_tracker_hashes_a_visitors_ip_with_the_key_applying_at_the_click() -> None:
    link = Link("aff-1", "camp-1", CampaignConfig(brand_id="brand-a",
                                                  landing_url="https://example.com/"))
    for at, version in ((START - timedelta(hours=1), 1), (START + timedelta(hours=1), 2)):
        click, _ = make_click(link, "c1", subs={}, utm={}, referrer=None, user_agent=None,
                              ip="198.51.100.7", country=None, device_id=None,
                              pseudonym_key=RING, now=at)
        key = OLD if version == 1 else NEW
        assert click.ip_hash == pseudonymise_ip(key, "198.51.100.7", version)[0]
