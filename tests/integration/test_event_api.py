"""The event API against the real broker: what lands on the topics, and every refusal."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.contracts.models import Deposit, Registration
from clickpath.contracts.topics import Topic
from clickpath.domain.pseudonym import keyed_hash
from clickpath.infra.metrics import INGRESS_REJECTED
from tests.integration.conftest import PSEUDONYM_KEY
from tests.integration.harness import ServedApp, read_topic, unsealed

WHEN = "2026-11-25T10:00:00Z"


def registration(n: int, **extra) -> dict:
    return {"event_type": "registration", "event_id": f"reg-{n}", "occurred_at": WHEN,
            "player_id": f"p{n}", "click_id": f"c{n}", **extra}


def deposit(n: int, **extra) -> dict:
    return {"event_type": "deposit", "event_id": f"dep-{n}", "occurred_at": WHEN,
            "player_id": f"p{n}", "transaction_id": f"tx-{n}", "amount": "25.50",
            "currency": "EUR", **extra}


@pytest.fixture
def api(settings):
    ctx = IngressContext.from_settings(settings.with_overrides(api_max_batch=50))
    with ServedApp(create_service(ctx.settings, ctx)) as served:
        _, secret = ctx.keys.create("operator", brand_id="brand-a")
        client = httpx.Client(base_url=served.url, timeout=30,
                              headers={"Authorization": f"Bearer {secret}"})
        served.ctx, served.client = ctx, client
        yield served
        client.close()


def rejected(door: str, reason: str) -> float:
    return INGRESS_REJECTED.labels(door, reason)._value.get()


def test_a_batch_lands_on_the_topics_decoded_and_pseudonymised(api, settings, codec) -> None:
    events = [registration(1, email=" Ann@Example.com ", phone="+44 20 7946 0958",
                           ip="203.0.113.9"), deposit(1)]
    r = api.client.post("/v1/events", json={"events": events})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "rejected": 0, "results": [
        {"index": 0, "event_id": "reg-1", "status": "accepted"},
        {"index": 1, "event_id": "dep-1", "status": "accepted"}]}
    # a registration that names a click goes to the click's partition (producer.route)
    got = read_topic(settings, codec, Topic.EVENTS, expect=1) + read_topic(settings, codec, Topic.CLICKS, 1)
    by_id = {record.event_id: (msg, record) for msg, record in got}
    msg, reg = by_id["reg-1"]
    assert isinstance(reg, Registration) and msg.key() == b"c1"
    assert (reg.brand_id, reg.source, reg.click_id) == ("brand-a", "api", "c1")
    # sealed under the player's key (docs/privacy.md#erasure), the pseudonyms inside
    assert reg.email_hash.startswith("cp1.")
    assert unsealed(settings, "email_hash", reg.email_hash) == keyed_hash(
        PSEUDONYM_KEY.encode(), "email", "ann@example.com")
    assert unsealed(settings, "phone_hash", reg.phone_hash) == keyed_hash(
        PSEUDONYM_KEY.encode(), "phone", "+442079460958")
    assert unsealed(settings, "ip_prefix", reg.ip_prefix) == "203.0.0.0/16"
    assert reg.received_at is not None
    for raw in (b"Example.com", b"7946", b"203.0.113.9"):
        assert raw not in msg.value(), "a raw identifier left ingress"
    _, dep = by_id["dep-1"]
    assert isinstance(dep, Deposit) and dep.amount == Decimal("25.50") and dep.currency == "EUR"


def test_each_bad_event_is_named_with_its_field_and_the_good_ones_still_land(api, settings, codec):
    events = [
        deposit(2),
        deposit(3, amount="-5"),                       # negative money
        {k: v for k, v in deposit(4).items() if k != "transaction_id"},  # missing field
        deposit(5, amount="lots"),                     # wrong type
        {**deposit(6), "event_type": "jackpot"},       # unknown event type
        deposit(7, brand_id="brand-b"),                # another brand than the key's
        deposit(8, currency="XXQ"),                    # unknown currency
        deposit(9, colour="red"),                      # unknown field
    ]
    r = api.client.post("/v1/events", json={"events": events})
    assert r.status_code == 207, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (1, 7)
    fields = {res["index"]: res.get("field") for res in body["results"] if res["status"] == "rejected"}
    assert fields == {1: "amount", 2: "transaction_id", 3: "amount", 4: "event_type",
                      5: "brand_id", 6: "currency", 7: "colour"}
    assert all(res.get("reason") for res in body["results"] if res["status"] == "rejected")
    [(_, only)] = read_topic(settings, codec, Topic.EVENTS, expect=1)
    assert only.event_id == "dep-2"
    everything_bad = api.client.post("/v1/events", json={"events": [deposit(10, amount="-1")]})
    assert everything_bad.status_code == 422


def test_refusals_name_what_is_wrong(api) -> None:
    before = rejected("events", "oversize")
    r = api.client.post("/v1/events", json={"events": [deposit(i) for i in range(51)]})
    assert r.status_code == 413 and "at most 50" in r.json()["detail"]
    assert rejected("events", "oversize") == before + 1
    r = api.client.post("/v1/events", json={"evnts": []})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "events"]
    r = api.client.post("/v1/events", json={"events": [deposit(1)]},
                        headers={"Authorization": "Bearer cpk_nope_nope"})
    assert r.status_code == 401
    r = httpx.post(f"{api.url}/v1/events", json={"events": [deposit(1)]})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    _, analyst = api.ctx.keys.create("analyst", brand_id="brand-a")
    r = api.client.post("/v1/events", json={"events": [deposit(1)]},
                        headers={"Authorization": f"Bearer {analyst}"})
    assert r.status_code == 403


def test_a_revoked_key_stops_working_on_the_running_service(api) -> None:
    key, secret = api.ctx.keys.create("operator", brand_id="brand-a")
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.client.post("/v1/events", json={"events": [deposit(20)]}, headers=headers).status_code == 200
    api.ctx.keys.revoke(key.key_id)
    assert api.client.post("/v1/events", json={"events": [deposit(21)]}, headers=headers).status_code == 401


def test_idempotency_key_replays_the_answer_and_refuses_another_body(api, settings, codec) -> None:
    headers = {"Idempotency-Key": "batch-0001"}
    first = api.client.post("/v1/events", json={"events": [deposit(30)]}, headers=headers)
    again = api.client.post("/v1/events", json={"events": [deposit(30)]}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = api.client.post("/v1/events", json={"events": [deposit(31)]}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    got = read_topic(settings, codec, Topic.EVENTS, expect=2, timeout_s=5, require=False)
    assert [record.event_id for _, record in got] == ["dep-30"]  # produced once


def test_rate_limit_answers_429_with_retry_after(settings) -> None:
    ctx = IngressContext.from_settings(settings.with_overrides(api_rate_per_s=1, api_rate_burst=3))
    with ServedApp(create_service(ctx.settings, ctx)) as served:
        _, secret = ctx.keys.create("operator", brand_id="brand-a")
        headers = {"Authorization": f"Bearer {secret}"}
        ok = httpx.post(f"{served.url}/v1/events", json={"events": [deposit(1), deposit(2)]},
                        headers=headers, timeout=30)
        limited = httpx.post(f"{served.url}/v1/events", json={"events": [deposit(3), deposit(4)]},
                             headers=headers, timeout=30)
    assert ok.status_code == 200
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_broker_down_is_503_and_nothing_is_acknowledged(settings, tmp_path) -> None:
    from clickpath.infra.broker import free_port

    dead = settings.with_overrides(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
                                   ingress_ack_timeout_ms=1000)
    ctx = IngressContext.from_settings(dead)
    with ServedApp(create_service(dead, ctx)) as served:
        _, secret = ctx.keys.create("operator", brand_id="brand-a")
        r = httpx.post(f"{served.url}/v1/events", json={"events": [deposit(1), deposit(2, amount="-1")]},
                       headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "k1"}, timeout=30)
        assert r.status_code == 503 and r.headers["retry-after"]
        statuses = [res["status"] for res in r.json()["results"]]
        assert statuses == ["not_acknowledged", "rejected"]
        # a 503 is not remembered: the same Idempotency-Key may be retried
        again = httpx.post(f"{served.url}/v1/events", json={"events": [deposit(1)]},
                           headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "k1"},
                           timeout=30)
        assert again.status_code == 503


def test_postback_in_maps_onto_events(api, settings, codec) -> None:
    secret = api.client.headers["Authorization"].removeprefix("Bearer ")
    url = "/v1/postback"
    r = httpx.get(f"{api.url}{url}", params={"key": secret, "event": "registration",
                  "player_id": "p40", "click_id": "c40", "ip": "198.51.100.7"})
    assert r.status_code == 200, r.text
    params = {"key": secret, "event": "ftd", "player_id": "p40", "transaction_id": "tx-40",
              "amount": "10.00", "currency": "GBP", "timestamp": "1764064800", "sub1": "ignored"}
    assert httpx.get(f"{api.url}{url}", params=params).json()["event_id"] == "pb-deposit-tx-40"
    assert httpx.get(f"{api.url}{url}", params=params).status_code == 200  # fired twice
    bad = httpx.get(f"{api.url}{url}", params={**params, "amount": "ten"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("amount")
    assert httpx.get(f"{api.url}{url}", params={**params, "event": "win"}).status_code == 422
    assert httpx.get(f"{api.url}{url}", params={**params, "key": "cpk_x_y"}).status_code == 401
    # the registration names a click: it goes to the click's partition (producer.route)
    got = read_topic(settings, codec, Topic.CLICKS, expect=1) + read_topic(settings, codec, Topic.EVENTS, 2)
    records = [record for _, record in got]
    assert [r.event_id for r in records] == ["pb-registration-p40", "pb-deposit-tx-40", "pb-deposit-tx-40"]
    reg, dep = records[0], records[1]
    assert isinstance(reg, Registration) and reg.click_id == "c40"
    assert unsealed(settings, "ip_prefix", reg.ip_prefix) == "198.51.0.0/16"
    assert isinstance(dep, Deposit) and dep.source == "postback" and dep.occurred_at.year == 2025
    assert b"198.51.100.7" not in got[0][0].value()


def test_personal_data_outside_its_fields_is_refused_naming_the_field(api, settings, codec) -> None:
    """Issue 21 item 22: `"attributes":{"email":"raw.person@example.com","ip":"198.51.100.23"}`
    was accepted and reached the topic verbatim; so did a player id that is an address."""
    events = [
        deposit(50, attributes={"email": "raw.person@example.com", "ip": "198.51.100.23"}),
        deposit(51, attributes={"note": "call +44 20 7946 0958"}),
        deposit(52, attributes={"seen_from": "198.51.100.23"}),
        deposit(53, player_id="raw.person@example.com"),
        registration(54, email="ann@example.com", ip="198.51.100.23"),  # its own fields: hashed
    ]
    r = api.client.post("/v1/events", json={"events": events})
    assert r.status_code == 207, r.text
    results = r.json()["results"]
    assert [res.get("field") for res in results[:4]] == [
        "attributes.email", "attributes.note", "attributes.seen_from", "player_id"]
    assert "e-mail address" in results[0]["reason"] and "phone number" in results[1]["reason"]
    assert results[4]["status"] == "accepted"
    got = read_topic(settings, codec, Topic.CLICKS, 1)  # it names a click: the click's partition
    assert [rec.event_id for _, rec in got] == ["reg-54"]
    assert all(b"raw.person" not in msg.value() and b"198.51.100.23" not in msg.value() for msg, _ in got)

    secret = api.client.headers["Authorization"].removeprefix("Bearer ")
    r = httpx.get(f"{api.url}/v1/postback", params={
        "key": secret, "event": "ftd", "player_id": "ann@example.com", "transaction_id": "tx-55",
        "amount": "10.00", "currency": "GBP"})
    assert r.status_code == 422 and r.json()["detail"].startswith("player_id"), r.text
