"""A player's consent log and subject-access export through the real HTTP service over embedded
ClickHouse: the player stage's own decisions (decide_player) make the canonical events, the
ClickHouse sink's writer stores them, and the service asks the sink's loopback app, the one
process that may open the engine.

brand-a:p1 registers through aff-1's click, deposits, grants marketing e-mail, withdraws it, and
then a "granted" from before the withdrawal arrives late: it is in the log, and the e-mail
consent stays withdrawn. brand-b:q1 is someone else at another brand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.contracts.models import (
    Attribution,
    Consent,
    DeliveryAttempt,
    Record,
    ResponsibleGaming,
)
from clickpath.domain.consent import apply_consent
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.players import PlayerPolicy, decide_player
from clickpath.domain.postbacks import postback_id
from clickpath.domain.profile import player_profile
from clickpath.sinks.clickhouse.reports import ReportReader, commission_operations, report_app
from clickpath.sinks.clickhouse.rows import EVENT_COLUMNS, event_row
from clickpath.sinks.clickhouse.writer import ClickHouseSink, write_batch
from clickpath.sinks.delivery.intake import job_id
from tests.factories import T0, at, deposit, registration
from tests.integration.conftest import PSEUDONYM_KEY
from tests.integration.harness import ServedApp
from tests.unit.connectors.http_support import AckingProducer

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=PSEUDONYM_KEY.encode())


def consent(event_id: str, purpose: str, granted: bool, minutes: float, received: float,
            source: str = "crm") -> Consent:
    return Consent(event_id=event_id, occurred_at=at(minutes), received_at=at(received),
                   brand_id="brand-a", source=source, player_id="p1", purpose=purpose,
                   granted=granted)


def attribution() -> Attribution:
    return Attribution(person_id="brand-a:p1", brand_id="brand-a", player_id="p1", click_id="c1",
                       status="attributed", reason="last_click", affiliate_id="aff-1",
                       campaign_id="camp-1", sub1="s-1", clicked_at=at(0), registered_at=at(1),
                       decided_at=at(1.5))


# In the order the player stage reads them; the late grant (c-late) says 09:30, read after 11:00.
P1_STORY: list[Record] = [
    registration("p1", "c1", minutes=1),
    attribution(),
    deposit("p1", "t1", "50.50", minutes=10),
    consent("c-grant", "marketing_email", True, 20, 20.5, source="api"),
    consent("c-share", "affiliate_data_sharing", False, 40, 41),
    consent("c-withdraw", "marketing_email", False, 60, 61),
    consent("c-late", "marketing_email", True, 30, 180, source="import"),
    ResponsibleGaming(event_id="rg-1", occurred_at=at(70), brand_id="brand-a", source="crm",
                      player_id="p1", kind="deposit_limit", action="start",
                      limit_amount=Decimal("100"), currency="EUR"),
]


def attempt(source_id: str, endpoint: str, kind: str, event: str, outcome: str, n: int,
            affiliate: str = "aff-1") -> DeliveryAttempt:
    """A delivery log row as the delivery engine writes it (its job id from intake.job_id)."""
    return DeliveryAttempt(job_id=job_id(source_id, endpoint), endpoint_id=endpoint, kind=kind,
                           event=event, affiliate_id=affiliate, brand_id="brand-a", attempt=n,
                           status=200 if outcome == "delivered" else 503, latency_ms=12,
                           outcome=outcome, error="" if outcome == "delivered" else "HTTP 503",
                           attempted_at=at(100 + n))


DELIVERIES = [
    attempt(postback_id("brand-a:p1", "aff-1", "registration"), "ep-1", "postback",
            "registration", "retry", 1),
    attempt(postback_id("brand-a:p1", "aff-1", "registration"), "ep-1", "postback",
            "registration", "delivered", 2),
    attempt("ev-reg-p1|registration", "wh-ops", "webhook", "registration", "delivered", 1, ""),
    # someone else's, on the same endpoints: not in p1's export
    attempt(postback_id("brand-a:p9", "aff-1", "registration"), "ep-1", "postback",
            "registration", "delivered", 1),
    attempt("ev-reg-p9|registration", "wh-ops", "webhook", "registration", "delivered", 1, ""),
]


def run_player(records: list[Record]) -> tuple[Any, list[Record]]:
    """What the player stage sends for `records`, each processed a minute after it arrived,
    and the profile it writes after the last."""
    state, sent, ledger = None, [], MemoryLedger()
    for n, record in enumerate(records):
        now = T0 + timedelta(hours=4, minutes=n)
        state, outputs, _ = decide_player(state, record, POLICY, now, ledger=ledger)
        sent += [o.record for o in outputs]
    assert state is not None
    return state, [*sent, player_profile(state, T0 + timedelta(hours=5))]


@pytest.fixture
def served(settings) -> Iterator[tuple[httpx.Client, dict[str, str], Any]]:
    sink = ClickHouseSink(settings)  # applies the migrations
    reports = ReportReader(settings)
    try:
        _, p1 = run_player(P1_STORY)
        _, q1 = run_player([registration("q1", None, brand="brand-b")])
        write_batch(sink.client, sink.db, [r for r in [*p1, *q1] if not isinstance(r, Attribution)])
        write_batch(sink.client, sink.db, [attribution(), *DELIVERIES])
        # The withdrawal written twice (a replay after a crash, processed again later): the
        # view reads it once, with no merge and no FINAL.
        [withdrawal] = [r for r in p1 if getattr(r, "event_id", None) == "c-withdraw"]
        again = withdrawal.model_copy(update={"processed_at": T0 + timedelta(hours=9)})
        sink.client.insert(f"{sink.db}.events", [event_row(again)], column_names=EVENT_COLUMNS)
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
                yield client, keys, sink
    finally:
        reports.close()
        sink.close()


def get(client: httpx.Client, keys: dict[str, str], who: str | None, path: str,
        **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {keys[who]}"} if who else {}
    return client.get(path, params=params, headers=headers)


def test_the_log_lists_every_change_and_a_late_grant_does_not_undo_a_withdrawal(served) -> None:
    client, keys, _ = served
    r = get(client, keys, "operator-a", "/v1/players/p1/consents")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [(c["event_id"], c["purpose"], c["status"]) for c in answer["history"]] == [
        ("c-grant", "marketing_email", "granted"),
        ("c-late", "marketing_email", "granted"),       # 09:30, between the grant and withdrawal
        ("c-share", "affiliate_data_sharing", "withdrawn"),
        ("c-withdraw", "marketing_email", "withdrawn"),  # written twice, listed once
    ]
    late = answer["history"][1]
    assert late == {"event_id": "c-late", "purpose": "marketing_email", "status": "granted",
                    "occurred_at": "2026-11-01T12:30:00Z", "received_at": "2026-11-01T15:00:00Z",
                    "source": "import"}
    current = answer["current"]
    assert set(current) == {"marketing_email", "marketing_sms", "affiliate_data_sharing",
                            "profiling"}
    assert (current["marketing_email"]["status"], current["marketing_email"]["event_id"]) == (
        "withdrawn", "c-withdraw")
    assert current["affiliate_data_sharing"]["status"] == "withdrawn"
    assert current["marketing_sms"] is None and current["profiling"] is None
    assert answer["history_truncated"] is False
    # The player stage's own rule, applied in the order it read them, says the same.
    marks: dict[str, Any] = {}
    for record in P1_STORY:
        if isinstance(record, Consent):
            apply_consent(marks, record)
    assert {p: m.granted for p, m in marks.items()} == {
        p: c["status"] == "granted" for p, c in current.items() if c is not None}

    # Bounded: the newest changes, oldest first, and it says older ones were left out.
    cut = get(client, keys, "operator-a", "/v1/players/p1/consents", limit=2).json()
    assert [c["event_id"] for c in cut["history"]] == ["c-share", "c-withdraw"]
    assert cut["history_truncated"] is True and cut["current"] == current
    assert get(client, keys, "admin", "/v1/players/p1/consents", brand_id="brand-a").json() == answer


def test_a_player_who_never_stated_a_consent_has_an_empty_log(served) -> None:
    client, keys, _ = served
    answer = get(client, keys, "operator-b", "/v1/players/q1/consents").json()
    assert answer["history"] == [] and set(answer["current"].values()) == {None}


def test_consents_are_the_brands_operator_and_admins_only(served) -> None:
    client, keys, _ = served
    path = "/v1/players/p1/consents"
    assert get(client, keys, None, path).status_code == 401
    for who in ("analyst-a", "affiliate"):
        r = get(client, keys, who, path)
        assert r.status_code == 403 and "operator" in r.json()["detail"], (who, r.text)
    assert get(client, keys, "operator-a", path, brand_id="brand-b").status_code == 403
    r = get(client, keys, "admin", path)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "brand_id"]
    # brand-b's operator asking for brand-a's p1: what any unknown player gets, no leak.
    theirs = get(client, keys, "operator-b", path)
    unknown = get(client, keys, "operator-a", "/v1/players/nobody/consents")
    assert (theirs.status_code, unknown.status_code) == (404, 404)
    assert theirs.json()["detail"] == "unknown player_id 'p1' at brand 'brand-b'"
    assert get(client, keys, "admin", path, brand_id="brand-a", limit=0).status_code == 422
    assert get(client, keys, "admin", path, brand_id="brand-a", limit=10_001).status_code == 422


def test_the_export_holds_the_players_events_consents_identity_and_deliveries(served) -> None:
    client, keys, _ = served
    r = get(client, keys, "operator-a", "/v1/players/p1/export")
    assert r.status_code == 200, r.text
    export = r.json()
    assert (export["brand_id"], export["player_id"], export["truncated"]) == ("brand-a", "p1", False)
    assert export["identity"]["accounts"] == [{"brand_id": "brand-a", "player_id": "p1"}]
    assert export["identity"]["person_id"] and export["identity"]["links"] == []
    events = {e["event_id"]: e for e in export["events"]}
    assert list(events) == ["ev-reg-p1", "ev-dep-t1", "c-grant", "c-late", "c-share",
                            "c-withdraw", "rg-1"]  # by event time; the twin once
    dep = events["ev-dep-t1"]
    assert (dep["event_type"], dep["amount"], dep["currency"], dep["is_ftd"],
            dep["transaction_id"]) == ("deposit", "50.50", "EUR", True, "t1")
    assert events["ev-reg-p1"]["click_id"] == "c1"
    assert events["c-late"]["payload"] == {"attributes": {}, "purpose": "marketing_email",
                                           "granted": True}  # as stored
    assert events["c-late"]["received_at"] == "2026-11-01T15:00:00Z"
    consents = get(client, keys, "operator-a", "/v1/players/p1/consents").json()
    assert export["consents"] == {"current": consents["current"], "history": consents["history"]}
    profile = export["profile"]
    assert (profile["deposits"], profile["deposit_sum"], profile["ftd_amount"],
            profile["ftd_currency"]) == (1, {"EUR": "50.50"}, "50.50", "EUR")
    assert profile["consents"] == {"marketing_email": False, "affiliate_data_sharing": False}
    attribution = export["attribution"]
    assert (attribution["status"], attribution["affiliate_id"], attribution["click_id"],
            attribution["sub1"]) == ("attributed", "aff-1", "c1", "s-1")
    assert export["responsible_gaming"]["active"] == []  # a deposit limit blocks nothing
    [limit] = export["responsible_gaming"]["history"]
    assert (limit["kind"], limit["action"], limit["limit_amount"], limit["currency"]) == (
        "deposit_limit", "start", "100", "EUR")
    deliveries = [(d["endpoint_id"], d["kind"], d["outcome"], d["attempts"])
                  for d in export["deliveries"]]
    assert deliveries == [("ep-1", "postback", "delivered", 2),
                          ("wh-ops", "webhook", "delivered", 1)]
    assert "p9" not in r.text

    # Bounded: the oldest `limit` events, and it says so; the same key rules as consents.
    cut = get(client, keys, "admin", "/v1/players/p1/export", brand_id="brand-a", limit=2).json()
    assert [e["event_id"] for e in cut["events"]] == ["ev-reg-p1", "ev-dep-t1"]
    assert cut["truncated"] is True and cut["events_truncated"] is True
    path = "/v1/players/p1/export"
    for who in ("analyst-a", "affiliate"):
        assert get(client, keys, who, path).status_code == 403
    assert get(client, keys, "admin", path).status_code == 422
    assert get(client, keys, "operator-a", path, brand_id="brand-b").status_code == 403
    assert get(client, keys, "operator-b", path).status_code == 404
    assert get(client, keys, "admin", path, brand_id="brand-a", limit=10_001).status_code == 422
