"""The unmerge admin route: admin keys only, a bad field named in the 422, nothing produced
unless the request is valid, and 202 with the request id only once the broker has it."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from clickpath.contracts.models.identity import UnmergeRequest
from clickpath.contracts.topics import Topic
from clickpath.infra.metrics import INGRESS_ACCEPTED, INGRESS_REJECTED
from tests.unit.connectors.http_support import AckingProducer, service

PATH = "/v1/admin/identity/unmerge"
BODY = {"brand_id": "brand-b", "player_id": "q1", "reason": "support ticket 12"}


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def counted(metric, *labels: str) -> float:
    return metric.labels(*labels)._value.get()


def test_only_an_admin_key_may_unmerge(tmp_path) -> None:
    producer = AckingProducer()
    app, ctx = service(tmp_path, producer)
    _, operator = ctx.keys.create("operator", brand_id="brand-b")
    _, analyst = ctx.keys.create("analyst", brand_id="brand-b")
    _, affiliate = ctx.keys.create("affiliate", affiliate_id="aff-1")
    forbidden = counted(INGRESS_REJECTED, "admin", "forbidden")
    with TestClient(app) as client:
        assert client.post(PATH, json=BODY).status_code == 401
        assert client.post(PATH, json=BODY, headers=bearer("not-a-key")).status_code == 401
        for key in (operator, analyst, affiliate):
            r = client.post(PATH, json=BODY, headers=bearer(key))
            assert r.status_code == 403 and "needs: admin" in r.json()["detail"]
    assert counted(INGRESS_REJECTED, "admin", "forbidden") == forbidden + 3
    assert producer.records == []


def test_an_unmerge_is_answered_202_with_its_request_id_once_produced(tmp_path) -> None:
    producer = AckingProducer()
    app, ctx = service(tmp_path, producer)
    key, admin = ctx.keys.create("admin")
    accepted = counted(INGRESS_ACCEPTED, "admin", "unmerge_request")
    with TestClient(app) as client:
        r = client.post(PATH, json=BODY, headers=bearer(admin))
    assert r.status_code == 202, r.text
    answer = r.json()
    assert uuid.UUID(answer["request_id"])
    assert (answer["account"], answer["requested_by"]) == ("brand-b:q1", key.key_id)
    [(topic, record_key, record)] = producer.records
    assert (topic, record_key) == (Topic.IDENTITY_INBOX, "brand-b:q1")
    assert isinstance(record, UnmergeRequest)
    assert (record.request_id, record.reason) == (answer["request_id"], "support ticket 12")
    assert record.requested_at.isoformat().startswith(answer["requested_at"][:19])
    assert counted(INGRESS_ACCEPTED, "admin", "unmerge_request") == accepted + 1


def test_a_bad_field_is_named_and_nothing_is_produced(tmp_path) -> None:
    producer = AckingProducer()
    app, ctx = service(tmp_path, producer)
    _, admin = ctx.keys.create("admin")
    cases = [
        ({k: v for k, v in BODY.items() if k != "reason"}, "reason"),
        ({**BODY, "reason": ""}, "reason"),
        ({**BODY, "reason": "x" * 201}, "reason"),
        ({**BODY, "reason": "the player ann@example.com asked"}, "reason"),
        ({**BODY, "player_id": "ann@example.com"}, "player_id"),
        ({**BODY, "player_id": "p" * 129}, "player_id"),
        ({**BODY, "brand_id": "brand:b"}, "brand_id"),
        ({**BODY, "person_id": "brand-a:p1"}, "person_id"),
    ]
    with TestClient(app) as client:
        for body, field in cases:
            r = client.post(PATH, json=body, headers=bearer(admin))
            assert r.status_code == 422, (body, r.text)
            assert field in r.text, (body, r.text)
    assert producer.records == []


def test_a_broker_that_does_not_take_it_is_a_503_without_its_words(tmp_path) -> None:
    app, ctx = service(tmp_path, AckingProducer(error="Local: Message timed out at broker:9092"))
    _, admin = ctx.keys.create("admin")
    with TestClient(app) as client:
        r = client.post(PATH, json=BODY, headers=bearer(admin))
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "9092" not in r.text and "timed out" not in r.text


def test_a_body_over_the_admin_cap_is_refused(tmp_path) -> None:
    app, ctx = service(tmp_path, AckingProducer(), admin_max_body_bytes=1024)
    _, admin = ctx.keys.create("admin")
    with TestClient(app) as client:
        r = client.post(PATH, json={**BODY, "reason": "x" * 2000}, headers=bearer(admin))
    assert r.status_code == 413
