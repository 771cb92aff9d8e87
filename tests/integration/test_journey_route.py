"""A player's journey through the real HTTP service over embedded ClickHouse: the rows written by
the ClickHouse sink's own writer, the service asking the sink's loopback app (the one process
that may open the engine), and `clickpath player` through the service with the host's CLI key.

brand-a:p1 and brand-b:q1 are one person (their e-mail; operator acme); p1 and p2 of brand-a
share a device (possible, flagged). An operator key of brand-a sees q1 only as a linked brand-b
account, an admin in full; brand-b's operator asking for p1 gets the 404 an unknown player gets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.contracts.models import (
    CanonicalEvent,
    CurrencyTotals,
    IdentityLink,
    MultiAccountSignal,
    PersonChange,
    PlayerProfile,
    TouchpointLink,
)
from clickpath.domain.identity.account_state import person_id_of
from clickpath.run.cli import build_parser
from clickpath.run.commands_data import cmd_player
from clickpath.run.errors import CommandError
from clickpath.settings.identity import OperatorConfig
from clickpath.sinks.clickhouse.reports import ReportReader, commission_operations, report_app
from clickpath.sinks.clickhouse.writer import ClickHouseSink, write_batch
from tests.integration.harness import ServedApp
from tests.unit.connectors.http_support import AckingProducer

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
PERSON = person_id_of("acme", "brand-a:p1")  # p1 came first: the person is p1's
PATH = "/v1/players/{}/journey"


def link(account: str, other: str, status: str, reasons: dict[str, float], score: float) -> IdentityLink:
    return IdentityLink(account=account, other=other, operator_id="acme", status=status,
                        score=score, reasons=reasons, version=1, decided_at=T0)


def event(event_id: str, event_type: str, minutes: int, amount: str | None = None,
          is_ftd: bool = False, player: str = "p1", brand: str = "brand-a") -> CanonicalEvent:
    return CanonicalEvent(
        event_id=event_id, event_type=event_type, occurred_at=T0 + timedelta(minutes=minutes),
        processed_at=T0 + timedelta(minutes=minutes), brand_id=brand, source="api",
        person_id=f"{brand}:{player}", player_id=player,
        amount=None if amount is None else Decimal(amount), currency="EUR" if amount else None,
        is_ftd=is_ftd, payload="{}",
    )


def graph() -> list[Any]:
    email = {"prior": -13.29, "email_hash": 0.0}
    device = {"prior": -13.29, "device_id": 16.46}
    money = CurrencyTotals(currency="EUR", deposit_sum=Decimal("75.50"), withdrawal_sum=Decimal(0),
                           chargeback_sum=Decimal(0), stakes=Decimal(0), wins=Decimal(0),
                           bonus_stakes=Decimal(0), bonus_cost=Decimal(0), ggr=Decimal(0),
                           ngr=Decimal(0))
    return [
        link("brand-a:p1", "brand-b:q1", "merged", email, -13.29),
        link("brand-b:q1", "brand-a:p1", "merged", email, -13.29),
        *[PersonChange(change_id=f"pc-0-{a}", account=a, operator_id="acme", kind="new",
                       person_id=person_id_of("acme", a), previous_person_id="",
                       reason="new_account", version=0, changed_at=T0)
          for a in ("brand-a:p1", "brand-a:p2", "brand-b:q1")],  # every account's first person
        PersonChange(change_id="pc-1", account="brand-b:q1", operator_id="acme", kind="merge",
                     person_id=PERSON, previous_person_id=person_id_of("acme", "brand-b:q1"),
                     reason="email_hash", version=1, changed_at=T0),
        link("brand-a:p1", "brand-a:p2", "possible", device, 3.17),
        MultiAccountSignal(signal_id="sg-1", kind="multi_account", brand_id="brand-a",
                           accounts=["brand-a:p1", "brand-a:p2"], score=3.17, reasons=device,
                           status="open", version=1, raised_at=T0),
        TouchpointLink(account="brand-a:p1", brand_id="brand-a", click_id="c-1",
                       affiliate_id="aff-1", campaign_id="camp-1",
                       clicked_at=T0 - timedelta(hours=1), link="named_click"),
        event("e-reg", "registration", 0),
        event("e-dep1", "deposit", 10, "50.50", is_ftd=True),
        event("e-dep2", "deposit", 20, "25.00"),
        event("e-q1", "registration", 5, player="q1", brand="brand-b"),
        PlayerProfile(person_id="brand-a:p1", brand_id="brand-a", player_id="p1",
                      registered_at=T0, kyc_status="verified", first_deposit_at=T0,
                      ftd_amount=Decimal("50.50"), ftd_currency="EUR", deposits=2,
                      declined_deposits=0, withdrawals=0, chargebacks=0, money=[money],
                      sessions=1, last_activity_at=T0, first_activity_at=T0, activity_events=3,
                      consents={"affiliate_data_sharing": True}, rg_active=[], tag_status="tagged",
                      affiliate_id="aff-1", campaign_id="camp-1", churn_risk=0.5,
                      updated_at=T0, version=3),
    ]


@pytest.fixture
def served(settings) -> Iterator[tuple[httpx.Client, dict[str, str], Any]]:
    settings = settings.with_overrides(operators={
        "acme": OperatorConfig(brands=["brand-a", "brand-b"])})
    sink = ClickHouseSink(settings)  # applies the migrations
    reports = ReportReader(settings)
    try:
        write_batch(sink.client, sink.db, graph())
        token = settings.reports_token.get_secret_value()
        with ServedApp(report_app(reports, token, commission_operations(reports))) as loopback:
            service_settings = settings.with_overrides(reports_url=loopback.url)
            service_settings.data_dir.mkdir(parents=True, exist_ok=True)
            ctx = IngressContext.from_settings(service_settings)
            ctx._producer = AckingProducer()  # type: ignore[assignment]
            keys = {
                "admin": ctx.keys.create("admin")[1],
                "operator-a": ctx.keys.create("operator", brand_id="brand-a")[1],
                "analyst-a": ctx.keys.create("analyst", brand_id="brand-a")[1],
                "operator-b": ctx.keys.create("operator", brand_id="brand-b")[1],
                "affiliate": ctx.keys.create("affiliate", affiliate_id="aff-1")[1],
            }
            with ServedApp(create_service(service_settings, ctx)) as service, \
                    httpx.Client(base_url=service.url, timeout=30) as client:
                yield client, keys, service_settings.with_overrides(http_port=service.port)
    finally:
        reports.close()
        sink.close()


def get(client: httpx.Client, keys: dict[str, str], who: str | None, player: str,
        **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {keys[who]}"} if who else {}
    return client.get(PATH.format(player), params=params, headers=headers)


def test_an_operator_sees_its_brand_in_full_and_another_brand_only_as_linked(served) -> None:
    client, keys, _ = served
    for who in ("operator-a", "analyst-a"):
        r = get(client, keys, who, "p1")
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["person_id"] == PERSON
        assert answer["accounts"] == [{"brand_id": "brand-a", "player_id": "p1"},
                                      {"brand_id": "brand-b", "linked": True}]
        merged, possible = answer["links"]
        assert merged == {"kind": "deterministic", "status": "merged", "score": -13.29,
                          "reasons": {"prior": -13.29, "email_hash": 0.0},
                          "other": {"brand_id": "brand-b", "linked": True},
                          "decided_at": "2026-03-02T09:00:00Z"}
        assert (possible["status"], possible["other"]) == (
            "possible", {"brand_id": "brand-a", "player_id": "p2"})
        [signal] = answer["signals"]
        assert (signal["kind"], signal["score"], signal["accounts"]) == (
            "multi_account", 3.17, [{"brand_id": "brand-a", "player_id": "p1"},
                                    {"brand_id": "brand-a", "player_id": "p2"}])
        assert answer["touchpoints"] == [{
            "click_id": "c-1", "affiliate_id": "aff-1", "campaign_id": "camp-1",
            "clicked_at": "2026-03-02T08:00:00Z", "link": "named_click"}]
        assert [(e["event_id"], e["amount"], e["currency"], e["is_ftd"])
                for e in answer["timeline"]] == [
            ("e-reg", None, None, False), ("e-dep1", "50.50", "EUR", True),
            ("e-dep2", "25.00", "EUR", False)]
        profile = answer["profile"]
        assert (profile["kyc_status"], profile["ftd_amount"], profile["ftd_currency"],
                profile["deposit_sum"]) == ("verified", "50.50", "EUR", {"EUR": "75.50"})
        assert "q1" not in r.text  # brand-b's player id, nowhere in the answer

    # Asking for its own brand by name is the same; another brand is refused.
    assert get(client, keys, "operator-a", "p1", brand_id="brand-a").json() == answer
    assert get(client, keys, "operator-a", "p1", brand_id="brand-b").status_code == 403


def test_an_admin_sees_every_account_in_full_and_names_the_brand(served) -> None:
    client, keys, _ = served
    r = get(client, keys, "admin", "p1", brand_id="brand-a")
    assert r.status_code == 200, r.text
    assert r.json()["accounts"] == [{"brand_id": "brand-a", "player_id": "p1"},
                                    {"brand_id": "brand-b", "player_id": "q1"}]
    assert r.json()["links"][0]["other"] == {"brand_id": "brand-b", "player_id": "q1"}
    # From q1's side: the same person, p1 (its first account, which never changed) in full.
    q1 = get(client, keys, "admin", "q1", brand_id="brand-b").json()
    assert (q1["person_id"], q1["accounts"]) == (PERSON, [
        {"brand_id": "brand-b", "player_id": "q1"}, {"brand_id": "brand-a", "player_id": "p1"}])
    assert [e["event_id"] for e in q1["timeline"]] == ["e-q1"] and q1["profile"] is None

    r = get(client, keys, "admin", "p1")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "brand_id"]
    # The timeline is bounded: the newest `limit`, oldest first, and says it was cut.
    cut = get(client, keys, "admin", "p1", brand_id="brand-a", limit=2).json()
    assert [e["event_id"] for e in cut["timeline"]] == ["e-dep1", "e-dep2"]
    assert cut["timeline_truncated"] is True
    assert get(client, keys, "admin", "p1", brand_id="brand-a", limit=0).status_code == 422


def test_refusals_and_unknown_players(served) -> None:
    client, keys, _ = served
    assert get(client, keys, None, "p1").status_code == 401
    r = get(client, keys, "affiliate", "p1")
    assert r.status_code == 403 and "affiliate" in r.json()["detail"]
    # brand-b's operator asking for brand-a's p1: what any unknown player gets, no leak.
    theirs = get(client, keys, "operator-b", "p1")
    unknown = get(client, keys, "operator-a", "nobody")
    assert (theirs.status_code, unknown.status_code) == (404, 404)
    assert theirs.json()["detail"] == "unknown player_id 'p1' at brand 'brand-b'"
    assert "player_id 'nobody'" in unknown.json()["detail"]
    # brand-b's own player: q1 in full, brand-a's p1 only linked.
    q1 = get(client, keys, "operator-b", "q1").json()
    assert q1["accounts"] == [{"brand_id": "brand-b", "player_id": "q1"},
                              {"brand_id": "brand-a", "linked": True}]
    assert '"p1"' not in json.dumps(q1)


def test_the_cli_prints_the_journey_the_service_answers_an_admin(served, capsys) -> None:
    client, keys, settings = served
    parse = build_parser().parse_args
    cmd_player(settings, parse(["player", "p1", "--brand", "brand-a"]))
    printed = json.loads(capsys.readouterr().out)
    assert printed == get(client, keys, "admin", "p1", brand_id="brand-a").json()
    assert printed["accounts"][1] == {"brand_id": "brand-b", "player_id": "q1"}
    with pytest.raises(CommandError, match="unknown player_id 'nobody'"):
        cmd_player(settings, parse(["player", "nobody", "--brand", "brand-a"]))


def test_against_a_clickhouse_server_the_cli_reads_it_directly(
    client, monkeypatch, capsys, tmp_path
) -> None:
    from clickpath.infra import reports
    from clickpath.infra.audit import AuditTrail, cli_actor, cli_origin
    from clickpath.settings import Settings

    write_batch(client, "clickpath", graph())
    monkeypatch.setattr(reports, "connect", lambda _settings: _Unclosed(client))
    settings = Settings(clickhouse_url="http://127.0.0.1:9", clickhouse_database="clickpath",
                        data_dir=tmp_path / "cli", audit_key="journey-cli-test-audit-key-0123456789",
                        operators={"acme": OperatorConfig(brands=["brand-a", "brand-b"])})
    parse = build_parser().parse_args
    cmd_player(settings, parse(["player", "q1", "--brand", "brand-b", "--limit", "5"]))
    printed = json.loads(capsys.readouterr().out)
    assert (printed["person_id"], printed["accounts"]) == (PERSON, [
        {"brand_id": "brand-b", "player_id": "q1"}, {"brand_id": "brand-a", "player_id": "p1"}])
    with pytest.raises(CommandError, match="unknown player_id 'p1' at brand 'brand-b'"):
        cmd_player(settings, parse(["player", "p1", "--brand", "brand-b"]))
    with pytest.raises(CommandError, match="--limit: between 1 and 10000"):
        cmd_player(settings, parse(["player", "q1", "--brand", "brand-b", "--limit", "0"]))
    # Each read it made is in the audit trail, as this OS user on this host.
    reads = [(e.actor, e.kind, e.subject, e.origin, dict(e.detail))
             for e in AuditTrail.from_settings(settings).entries()]
    assert reads == [
        (cli_actor(), "journey.read", "brand-b:q1", cli_origin(), {"found": True, "limit": 5}),
        (cli_actor(), "journey.read", "brand-b:p1", cli_origin(), {"found": False, "limit": 1000}),
    ]


class _Unclosed:
    """The test's client, which the CLI's read must not close."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def close(self) -> None:
        pass
