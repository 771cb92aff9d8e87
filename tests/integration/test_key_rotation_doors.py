"""A pseudonym key rotation at the event API, against the real broker: in the grace period a
registration lands (Avro v4) with the new version's pseudonyms and the old version's beside
them, the old ones exactly what the doors made before the rotation (docs/privacy.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.contracts.models import Registration
from clickpath.contracts.topics import Topic
from clickpath.domain.pseudonym import keyed_hash
from tests.integration.conftest import PSEUDONYM_KEY
from tests.integration.harness import ServedApp, read_topic, unsealed

NEW_KEY = "the-rotated-integration-key-0123456789abcdef"


@pytest.fixture
def rotated(settings):
    # with_overrides does not validate: the secrets go in as SecretStr, as Settings makes them
    return settings.with_overrides(
        pseudonym_key=SecretStr(NEW_KEY), pseudonym_key_version=2,
        pseudonym_previous_keys={1: SecretStr(PSEUDONYM_KEY)},
        pseudonym_key_started_at=datetime.now(UTC) - timedelta(days=1), pseudonym_grace_days=7)


def test_in_the_grace_period_a_registration_lands_under_both_versions(rotated, codec) -> None:
    ctx = IngressContext.from_settings(rotated)
    with ServedApp(create_service(rotated, ctx)) as served:
        _, secret = ctx.keys.create("operator", brand_id="brand-a")
        with httpx.Client(base_url=served.url, timeout=30,
                          headers={"Authorization": f"Bearer {secret}"}) as client:
            r = client.post("/v1/events", json={"events": [{
                "event_type": "registration", "event_id": "reg-rot", "player_id": "p1",
                "occurred_at": datetime.now(UTC).isoformat(), "email": "Ann@Example.com",
                "phone": "+44 20 7946 0958", "ip": "203.0.113.9"}]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    [(msg, reg)] = read_topic(rotated, codec, Topic.EVENTS, expect=1)
    assert isinstance(reg, Registration)
    old, new = PSEUDONYM_KEY.encode(), NEW_KEY.encode()
    email, previous = (unsealed(rotated, f, getattr(reg, f)) for f in ("email_hash", "previous_email_hash"))
    assert email == keyed_hash(new, "email", "ann@example.com", 2) and email.startswith("v2.")
    assert previous == keyed_hash(old, "email", "ann@example.com")
    assert unsealed(rotated, "previous_phone_hash", reg.previous_phone_hash) == keyed_hash(
        old, "phone", "+442079460958")
    assert unsealed(rotated, "ip_hash", reg.ip_hash) == keyed_hash(new, "ip", "203.0.113.9", 2)
    for raw in (b"Example.com", b"7946", b"203.0.113.9"):
        assert raw not in msg.value(), "a raw identifier left ingress"
