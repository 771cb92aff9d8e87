"""Asking for an erasure and reading its certificate through the real HTTP service: the POST
produces the `erasure_request` to the real embedded broker (read back from the events topic),
the GET reads `erasure_certificates` over embedded ClickHouse through the sink's loopback app,
as the consents route does. The certificate row is inserted as the ClickHouse sink writes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.contracts.models import ErasureRequest
from clickpath.contracts.topics import Topic
from clickpath.run.cli import build_parser
from clickpath.run.commands_privacy import cmd_player_or_action
from clickpath.run.errors import CommandError
from clickpath.sinks.clickhouse.reports import ReportReader, commission_operations, report_app
from clickpath.sinks.clickhouse.writer import ClickHouseSink
from tests.integration.harness import ServedApp, read_topic
from tests.unit.connectors.http_support import AckingProducer

DONE = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def served(settings) -> Iterator[tuple[httpx.Client, dict[str, str], Any]]:
    sink = ClickHouseSink(settings)  # applies the migrations, 016 with erasure_certificates
    reports = ReportReader(settings)
    try:
        token = settings.reports_token.get_secret_value()
        with ServedApp(report_app(reports, token, commission_operations(reports))) as loopback:
            service_settings = settings.with_overrides(reports_url=loopback.url)
            service_settings.data_dir.mkdir(parents=True, exist_ok=True)
            ctx = IngressContext.from_settings(service_settings)  # the real producer, at start
            keys = {
                "admin": ctx.keys.create("admin")[1],
                "operator-a": ctx.keys.create("operator", brand_id="brand-a")[1],
                "analyst-a": ctx.keys.create("analyst", brand_id="brand-a")[1],
                "operator-b": ctx.keys.create("operator", brand_id="brand-b")[1],
                "affiliate": ctx.keys.create("affiliate", affiliate_id="aff-1")[1],
            }
            with ServedApp(create_service(service_settings, ctx)) as service, \
                    httpx.Client(base_url=service.url, timeout=30) as client:
                yield client, keys, {"sink": sink, "ctx": ctx,
                                     "settings": service_settings.with_overrides(http_port=service.port)}
    finally:
        reports.close()
        sink.close()


def call(client: httpx.Client, keys: dict[str, str], who: str | None, method: str, player: str,
         body: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
         **params: Any) -> httpx.Response:
    auth = {"Authorization": f"Bearer {keys[who]}"} if who else {}
    return client.request(method, f"/v1/players/{player}/erasure", params=params, json=body,
                          headers={**auth, **(headers or {})})


def erasure_requests(settings: Any, codec: Any, expect: int) -> list[tuple[bytes, ErasureRequest]]:
    got = read_topic(settings, codec, Topic.EVENTS, expect=expect)
    return [(msg.key(), record) for msg, record in got if isinstance(record, ErasureRequest)]


def test_an_operator_asks_and_the_request_lands_on_the_events_topic(served, codec) -> None:
    client, keys, parts = served
    before = datetime.now(UTC)
    r = call(client, keys, "operator-a", "POST", "p1",
             {"requested_by": "DPO-1234", "reason": "Art. 17 request"})
    assert r.status_code == 202, r.text
    answer = r.json()
    request_id = answer["request_id"]
    assert request_id.startswith("er_") and len(request_id) == 35
    assert answer == {"request_id": request_id, "brand_id": "brand-a", "player_id": "p1",
                      "status": "accepted",
                      "certificate": "/v1/players/p1/erasure?brand_id=brand-a"}
    [(key, event)] = erasure_requests(parts["settings"], codec, 1)
    assert key == b"brand-a:p1"
    assert (event.event_id, event.brand_id, event.player_id, event.source, event.requested_by) == (
        request_id, "brand-a", "p1", "api", "DPO-1234")
    assert event.attributes == {"reason": "Art. 17 request"}
    assert before - timedelta(seconds=1) <= event.occurred_at <= datetime.now(UTC)


def test_an_idempotency_key_makes_a_retry_the_same_request(served, codec) -> None:
    client, keys, parts = served
    again = {"Idempotency-Key": "ticket-77"}
    first = call(client, keys, "admin", "POST", "p2", {"brand_id": "brand-a"}, headers=again)
    second = call(client, keys, "admin", "POST", "p2", headers=again, brand_id="brand-a")
    other = call(client, keys, "admin", "POST", "p2", {"brand_id": "brand-a"})
    assert (first.status_code, second.status_code, other.status_code) == (202, 202, 202)
    assert first.json()["request_id"] == second.json()["request_id"] != other.json()["request_id"]
    got = erasure_requests(parts["settings"], codec, 3)
    assert [e.event_id for _, e in got].count(first.json()["request_id"]) == 2
    admin_id = parts["ctx"].keys.authenticate(keys["admin"]).key_id
    assert {e.requested_by for _, e in got} == {admin_id}  # no requested_by: the key's id


def test_the_key_rules_and_refusals(served) -> None:
    client, keys, _ = served
    assert call(client, keys, None, "POST", "p1").status_code == 401
    for who in ("analyst-a", "affiliate"):
        for method in ("POST", "GET"):
            r = call(client, keys, who, method, "p1")
            assert r.status_code == 403 and "operator" in r.json()["detail"], (who, method, r.text)
    assert call(client, keys, "operator-a", "POST", "p1", brand_id="brand-b").status_code == 403
    assert call(client, keys, "operator-a", "POST", "p1", {"brand_id": "brand-b"}).status_code == 403
    assert call(client, keys, "operator-a", "GET", "p1", brand_id="brand-b").status_code == 403
    for method in ("POST", "GET"):
        r = call(client, keys, "admin", method, "p1")
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "brand_id"]
    r = call(client, keys, "operator-a", "POST", "p1", {"requested_by": "ann@example.com"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "requested_by"]
    assert "e-mail" in r.json()["detail"][0]["msg"] or "email" in r.json()["detail"][0]["msg"]
    r = call(client, keys, "operator-a", "POST", "p1", {"reason": "call +44 20 7946 0958"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    r = call(client, keys, "operator-a", "POST", "p1", {"why": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "why"]
    r = call(client, keys, "operator-a", "POST", "p1", {"reason": "x" * 501})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    r = call(client, keys, "operator-a", "POST", "p1", {"reason": "x" * 3 * 1024 * 1024})
    assert r.status_code == 413  # over the service's body cap (2 MiB), before it is parsed


def test_a_broker_that_does_not_take_it_is_a_503_without_its_words(served) -> None:
    client, keys, parts = served
    ctx = parts["ctx"]
    real, ctx._producer = ctx._producer, AckingProducer(error="KafkaError{code=_MSG_TIMED_OUT}")
    try:
        r = call(client, keys, "operator-a", "POST", "p1")
    finally:
        ctx._producer = real
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert "Kafka" not in r.text and "TIMED_OUT" not in r.text


def certificate_row(player: str, completed: datetime, request_id: str) -> dict[str, Any]:
    return {
        "brand_id": "brand-a", "player_id": player, "account": f"brand-a:{player}",
        "request_id": request_id, "requested_by": "DPO-1234",
        "requested_at": DONE - timedelta(minutes=5), "graph_erased_at": DONE - timedelta(minutes=4),
        "key_destroyed_at": DONE - timedelta(minutes=3), "key_existed": True,
        "identifiers_removed": 4, "links_removed": 2, "clicks_anonymised": 1,
        "deliveries_revoked": True, "rows_anonymised": {"events": 7, "players": 1, "clicks": 1},
        "completed_at": completed,
    }


def test_the_certificate_once_written_and_404_before(served, capsys) -> None:
    client, keys, parts = served
    r = call(client, keys, "operator-a", "GET", "p1")
    assert r.status_code == 404
    assert r.json()["detail"] == "no erasure certificate for player 'p1' at brand 'brand-a' (yet)"
    sink = parts["sink"]
    # A duplicate completed later but inserted first, in its own part (one block would be
    # merged on insert): unmerged, the read takes the earliest; merged, the last insert stays.
    rows = [certificate_row("p1", DONE + timedelta(hours=1), "er_later"),
            certificate_row("p1", DONE, "er_first")]
    for row in rows:
        sink.client.insert(f"{sink.db}.erasure_certificates", [list(row.values())],
                           column_names=list(row))
    r = call(client, keys, "operator-a", "GET", "p1")
    assert r.status_code == 200, r.text
    cert = r.json()
    written = cert.pop("written_at")
    assert written.endswith("Z")
    assert cert == {
        "brand_id": "brand-a", "player_id": "p1", "account": "brand-a:p1",
        "request_id": "er_first", "requested_by": "DPO-1234",
        "requested_at": "2026-11-02T09:25:00Z", "graph_erased_at": "2026-11-02T09:26:00Z",
        "key_destroyed_at": "2026-11-02T09:27:00Z", "key_existed": True,
        "identifiers_removed": 4, "links_removed": 2, "clicks_anonymised": 1,
        "deliveries_revoked": True, "rows_anonymised": {"events": 7, "players": 1, "clicks": 1},
        "completed_at": "2026-11-02T09:30:00Z",
        "statement": "The personal data of player p1 at brand brand-a was erased on"
                     " 2026-11-02T09:30:00Z: its key was destroyed at 2026-11-02T09:27:00Z,"
                     " 4 identifiers and 2 links removed from the identity graph, 9 rows"
                     " anonymised in ClickHouse, deliveries to its affiliate revoked.",
    }
    admin = call(client, keys, "admin", "GET", "p1", brand_id="brand-a").json()
    assert admin["request_id"] == "er_first"
    # Another brand's operator: that brand has no certificate for p1.
    assert call(client, keys, "operator-b", "GET", "p1").status_code == 404

    # The CLI prints the same, through the service (ClickHouse is embedded).
    parse = build_parser().parse_args
    cmd_player_or_action(parts["settings"],
                         parse(["player", "certificate", "--brand", "brand-a", "--player", "p1"]))
    printed = json.loads(capsys.readouterr().out)
    assert printed == {**cert, "written_at": written}
    with pytest.raises(CommandError, match="no erasure certificate for player 'p9'"):
        cmd_player_or_action(parts["settings"],
                             parse(["player", "certificate", "--brand", "brand-a", "--player", "p9"]))


def test_the_cli_produces_the_same_request(served, codec, capsys) -> None:
    _, _, parts = served
    parse = build_parser().parse_args
    cmd_player_or_action(parts["settings"], parse(
        ["player", "erase", "--brand", "brand-a", "--player", "p3", "--requested-by", "DPO-9"]))
    printed = json.loads(capsys.readouterr().out)
    assert (printed["status"], printed["requested_by"]) == ("accepted", "DPO-9")
    [(key, event)] = erasure_requests(parts["settings"], codec, 1)
    assert key == b"brand-a:p3"
    assert (event.event_id, event.player_id, event.source, event.requested_by) == (
        printed["request_id"], "p3", "cli", "DPO-9")
    with pytest.raises(CommandError, match="--requested-by"):
        cmd_player_or_action(parts["settings"], parse(
            ["player", "erase", "--brand", "brand-a", "--player", "p3",
             "--requested-by", "ann@example.com"]))
    with pytest.raises(CommandError, match="--player P"):
        cmd_player_or_action(parts["settings"], parse(["player", "erase", "--brand", "brand-a"]))
