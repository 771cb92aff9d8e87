"""Issue 13, High 5: bodies are bounded before any work: the key is checked before a byte of
the body is read, a declared oversize body is not read at all, and a chunked one is read only
up to the route's cap."""

from __future__ import annotations

import json

from clickpath.infra.metrics import INGRESS_REJECTED
from clickpath.settings import Settings
from tests.unit.connectors.http_support import chunks, raw_call, service

MIB = 1024 * 1024


def rejected(door: str, reason: str) -> float:
    return INGRESS_REJECTED.labels(door, reason)._value.get()


def test_a_keyless_200_mb_put_is_refused_before_its_body_is_read(tmp_path) -> None:
    app, _ = service(tmp_path)
    answer = raw_call(app, "PUT", "/v1/admin/affiliates/x", body=chunks(200 * MIB),
                      headers={"Content-Length": str(200 * MIB), "Content-Type": "application/json"})
    assert answer.status == 401
    assert answer.body_bytes_read == 0
    assert answer.headers["connection"] == "close"  # the rest is not read either


def test_a_chunked_admin_body_is_read_only_up_to_its_cap(tmp_path) -> None:
    app, ctx = service(tmp_path, admin_max_body_bytes=64 * 1024)
    _, admin = ctx.keys.create("admin")
    before = rejected("admin", "oversize")
    answer = raw_call(app, "PUT", "/v1/admin/affiliates/x", body=chunks(8 * MIB, 16 * 1024),
                      headers={"Authorization": f"Bearer {admin}", "Transfer-Encoding": "chunked",
                               "Content-Type": "application/json"})
    assert answer.status == 413, answer.body
    assert answer.body_bytes_read <= 64 * 1024 + 16 * 1024
    assert rejected("admin", "oversize") == before + 1


def test_a_declared_oversize_body_is_not_read(tmp_path) -> None:
    app, ctx = service(tmp_path)
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    size = Settings().http_max_body_bytes + 1
    answer = raw_call(app, "POST", "/v1/events", body=chunks(size),
                      headers={"Authorization": f"Bearer {operator}", "Content-Length": str(size)})
    assert answer.status == 413 and answer.body_bytes_read == 0
    assert "bytes" in json.loads(answer.body)["detail"]


def test_the_event_api_stops_reading_a_chunked_body_at_the_global_cap(tmp_path) -> None:
    app, ctx = service(tmp_path, http_max_body_bytes=256 * 1024)
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    answer = raw_call(app, "POST", "/v1/events", body=chunks(16 * MIB),
                      headers={"Authorization": f"Bearer {operator}", "Transfer-Encoding": "chunked"})
    assert answer.status == 413
    assert answer.body_bytes_read <= 256 * 1024 + 65536


def test_collect_stops_reading_a_chunked_body_at_its_cap(tmp_path) -> None:
    """The collector checked only Content-Length: a chunked body was read whole."""
    app, _ = service(tmp_path)
    before = rejected("collect", "oversize")
    answer = raw_call(app, "POST", "/v1/collect", body=chunks(4 * MIB, 4096),
                      headers={"Origin": "https://casino.example", "Transfer-Encoding": "chunked"})
    assert answer.status == 413
    assert answer.body_bytes_read <= 8192 + 4096
    assert answer.headers["access-control-allow-origin"] == "https://casino.example"
    assert rejected("collect", "oversize") == before + 1


def test_postback_in_takes_no_body_to_speak_of(tmp_path) -> None:
    app, ctx = service(tmp_path)
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    answer = raw_call(app, "GET", "/v1/postback", query="event=registration&player_id=p1",
                      body=chunks(MIB, 1024),
                      headers={"Authorization": f"Bearer {operator}", "Content-Length": str(MIB)})
    assert answer.status == 413 and answer.body_bytes_read == 0


def test_the_caps_are_settings() -> None:
    s = Settings()
    assert s.collect_max_body_bytes < s.admin_max_body_bytes < s.http_max_body_bytes
    assert s.postback_max_body_bytes <= s.collect_max_body_bytes
