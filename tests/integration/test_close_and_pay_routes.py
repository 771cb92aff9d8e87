"""Close, adjust and pay through the HTTP service as an operator runs them, and the affiliate's
own ledger and statements: the service asks the ClickHouse sink's loopback app (the one process
that may open the embedded engine). Every affiliate route is refused to another affiliate's key,
to brand-scoped keys and without a key; the actions are recorded with the key that did them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.contracts.models import LedgerEntry
from clickpath.domain.catalogue import AffiliateConfig
from clickpath.sinks.clickhouse.reports import ReportReader, commission_operations, report_app
from clickpath.sinks.clickhouse.writer import ClickHouseSink, write_batch
from tests.integration.harness import ServedApp
from tests.unit.connectors.http_support import AckingProducer


def entry(entry_id: str, affiliate: str, period: str, amount: str) -> LedgerEntry:
    at = datetime.fromisoformat(f"{period}-10T12:00:00+00:00")
    return LedgerEntry(
        entry_id=entry_id, affiliate_id=affiliate, period=period, kind="accrual", component="cpa",
        amount=Decimal(amount), currency="EUR", original_amount=Decimal(amount),
        original_currency="EUR", fx_rate=Decimal(1), plan_id="cpa", plan_version=1,
        player_token=f"tok-{entry_id}", caused_by=[entry_id], occurred_at=at, recorded_at=at,
    )


@pytest.fixture
def service(settings) -> Iterator[tuple[TestClient, dict[str, str], ClickHouseSink]]:
    settings = settings.with_overrides(affiliates={
        "aff-1": AffiliateConfig(name="One", legal_name="One Media <Ltd>", address="1 High St",
                                 country="MT"),
        "aff-2": AffiliateConfig(name="Two", min_payout=Decimal("100.00"), legal_name="Two GmbH",
                                 address="Weg 2", country="DE", vat_id="DE123",
                                 vat_reverse_charge=True),
    }, invoice_operator_name="Casino Op", invoice_operator_address="Valletta",
        invoice_operator_vat_id="MT999", vat_rates={"MT": Decimal("18")})
    sink = ClickHouseSink(settings)  # applies the migrations
    reports = ReportReader(settings)
    try:
        token = settings.reports_token.get_secret_value()
        with ServedApp(report_app(reports, token, commission_operations(reports))) as served:
            service_settings = settings.with_overrides(reports_url=served.url)
            ctx = IngressContext.from_settings(service_settings)
            ctx._producer = AckingProducer()  # type: ignore[assignment]
            keys = {
                "admin": ctx.keys.create("admin")[1],
                "aff-1": ctx.keys.create("affiliate", affiliate_id="aff-1")[1],
                "aff-2": ctx.keys.create("affiliate", affiliate_id="aff-2")[1],
                "operator": ctx.keys.create("operator", brand_id="brand-a")[1],
                "analyst": ctx.keys.create("analyst", brand_id="brand-a")[1],
            }
            with TestClient(create_service(service_settings, ctx)) as client:
                yield client, keys, sink
    finally:
        reports.close()
        sink.close()


def auth(keys: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[who]}"}


def rows_of(response: Any) -> dict[tuple[str, str], dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {(r["affiliate_id"], r["period"]): r for r in response.json()}


def test_close_adjust_pay_and_the_affiliates_own_view(service) -> None:
    client, keys, sink = service
    write_batch(sink.client, sink.db, [entry("a1", "aff-1", "2026-10", "150.00"),
                                       entry("b1", "aff-2", "2026-10", "30.00")])
    admin = auth(keys, "admin")

    for who in ("aff-1", "operator", "analyst"):
        r = client.post("/v1/admin/periods/2026-10/close", headers=auth(keys, who))
        assert r.status_code == 403, who
    assert client.post("/v1/admin/periods/2026-10/close").status_code == 401
    r = client.post("/v1/admin/periods/2026-10/close", headers=admin,
                    json={"requested_by": "alice"})
    assert r.status_code == 200, r.text
    closed = {row["affiliate_id"]: row for row in r.json()["rows"]}
    assert r.json()["closed"] is True
    assert (closed["aff-1"]["status"], closed["aff-1"]["total"], closed["aff-1"]["invoice_number"]) \
        == ("closed", "150.00", "CP-000001")
    assert (closed["aff-2"]["status"], closed["aff-2"]["roll_over"]) == ("under_minimum", "-30.00")
    again = client.post("/v1/admin/periods/2026-10/close", headers=admin)
    assert again.json()["closed"] is False and again.json()["rows"] == r.json()["rows"]
    assert client.post("/v1/admin/periods/2099-01/close", headers=admin).status_code == 409

    # A late October entry is paid in November, October stays as it closed.
    write_batch(sink.client, sink.db, [entry("a2", "aff-1", "2026-10", "40.00")])
    r = client.post("/v1/admin/ledger/adjustments", headers=admin, json={
        "affiliate_id": "aff-1", "amount": "-5.00", "currency": "EUR",
        "reason": "duplicate traffic", "period": "2026-11", "requested_by": "alice"})
    assert r.status_code == 201, r.text
    assert (r.json()["kind"], r.json()["component"], r.json()["amount"]) == (
        "adjustment", "manual", "-5.00")
    r = client.post("/v1/admin/ledger/adjustments", headers=admin, json={
        "affiliate_id": "aff-1", "amount": "-5.00", "currency": "EUR", "reason": "x",
        "period": "2026-10"})
    assert r.status_code == 409 and "adjust 2026-11" in r.json()["detail"]
    r = client.post("/v1/admin/ledger/adjustments", headers=admin, json={
        "affiliate_id": "aff-1", "amount": "many", "currency": "EUR", "reason": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "amount"]

    mine = rows_of(client.get("/v1/affiliate/statements", headers=auth(keys, "aff-1")))
    assert set(mine) >= {("aff-1", "2026-10"), ("aff-1", "2026-11")}
    assert all(a == "aff-1" for a, _ in mine)
    assert mine[("aff-1", "2026-10")]["total"] == "150.00"
    assert (mine[("aff-1", "2026-11")]["total"], mine[("aff-1", "2026-11")]["manual_amount"]) == (
        "35.00", "-5.00")
    theirs = rows_of(client.get("/v1/affiliate/statements", headers=auth(keys, "aff-2")))
    assert all(a == "aff-2" for a, _ in theirs) and theirs[("aff-2", "2026-11")]["roll_over"] == "30.00"
    ledger = client.get("/v1/affiliate/ledger", params={"period": "2026-11"},
                        headers=auth(keys, "aff-1"))
    assert sorted((e["kind"], e["period"], e["amount"]) for e in ledger.json()) == [
        ("accrual", "2026-10", "40.00"), ("adjustment", "2026-11", "-5.00")]

    # Another affiliate's data: refused by the key, whatever the query says.
    for path in ("/v1/affiliate/statements", "/v1/affiliate/ledger"):
        params = {"period": "2026-10", "affiliate_id": "aff-1"}
        assert client.get(path, params=params, headers=auth(keys, "aff-2")).status_code == 403
        for who in ("operator", "analyst"):
            assert client.get(path, params=params, headers=auth(keys, who)).status_code == 403
        assert client.get(path, params=params).status_code == 401
        r = client.get(path, params={"period": "2026-10"}, headers=admin)
        assert r.status_code == 422 and "affiliate_id" in r.json()["detail"]

    pay = "/v1/admin/statements/2026-10/{}/payment"
    r = client.post(pay.format("aff-2"), headers=admin, json={"reference": "W-0"})
    assert r.status_code == 409 and "minimum" in r.json()["detail"]
    assert client.post(pay.format("aff-1"), headers=auth(keys, "aff-1"),
                       json={"reference": "W-1"}).status_code == 403
    r = client.post(pay.format("aff-1"), headers=admin, json={"reference": "W-1"})
    assert r.status_code == 200 and r.json()[0]["status"] == "paid"
    assert client.post(pay.format("aff-1"), headers=admin, json={"reference": "W-2"}).status_code == 409
    mine = rows_of(client.get("/v1/affiliate/statements", params={"period": "2026-10"},
                              headers=auth(keys, "aff-1")))
    assert mine[("aff-1", "2026-10")]["payment_reference"] == "W-1"

    log = client.get("/v1/admin/commission-actions", headers=admin).json()
    assert [a["kind"] for a in log] == ["pay", "adjust", "close"]
    assert {a["requested_by"] for a in log[1:]} == {"alice"}
    assert len({a["actor"] for a in log}) == 1  # the admin key's id, every time
    assert client.get("/v1/admin/commission-actions", headers=auth(keys, "aff-1")).status_code == 403


def invoice_csv_rows(response: Any) -> dict[str, Decimal]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return {r["kind"]: Decimal(r["amount"]) for r in csv.DictReader(io.StringIO(response.text))
            if r["kind"] in ("net", "vat", "gross")}


def test_invoices_equal_the_statement_and_reach_their_affiliate_only(service) -> None:
    client, keys, sink = service
    write_batch(sink.client, sink.db, [
        entry("a1", "aff-1", "2026-09", "150.00"), entry("a2", "aff-1", "2026-09", "-10.00"),
        entry("b1", "aff-2", "2026-09", "250.00"),
    ])
    rows = client.post("/v1/admin/periods/2026-09/close", headers=auth(keys, "admin")).json()["rows"]
    by = {r["affiliate_id"]: r for r in rows}
    one, two = by["aff-1"]["invoice_number"], by["aff-2"]["invoice_number"]
    assert (one, two) == ("CP-000001", "CP-000002")

    mine = invoice_csv_rows(client.get(f"/v1/affiliate/invoices/{one}", params={"format": "csv"},
                                       headers=auth(keys, "aff-1")))
    assert mine == {"net": Decimal("140.00"), "vat": Decimal("25.20"), "gross": Decimal("165.20")}
    assert mine["net"] == Decimal(by["aff-1"]["total"])
    reverse = invoice_csv_rows(client.get(f"/v1/affiliate/invoices/{two}", params={"format": "csv"},
                                          headers=auth(keys, "aff-2")))
    assert reverse == {"net": Decimal("250.00"), "vat": Decimal(0), "gross": Decimal("250.00")}
    page = client.get(f"/v1/affiliate/invoices/{one}", headers=auth(keys, "aff-1"))
    assert page.headers["content-type"].startswith("text/html")
    assert one in page.text and "One Media &lt;Ltd&gt;" in page.text and "<Ltd>" not in page.text
    pdf = client.get(f"/v1/affiliate/invoices/{two}", params={"format": "pdf"},
                     headers=auth(keys, "aff-2"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    admin = client.get(f"/v1/affiliate/invoices/{two}", params={"affiliate_id": "aff-2", "format": "csv"},
                       headers=auth(keys, "admin"))
    assert invoice_csv_rows(admin) == reverse

    # Another affiliate's number, a guessed one, another affiliate named, brand keys, no key.
    for number in (two, "CP-000003", "CP-999999", "INV-1"):
        r = client.get(f"/v1/affiliate/invoices/{number}", headers=auth(keys, "aff-1"))
        assert r.status_code == 404, number
    r = client.get(f"/v1/affiliate/invoices/{two}", params={"affiliate_id": "aff-2"},
                   headers=auth(keys, "aff-1"))
    assert r.status_code == 403
    for who in ("operator", "analyst"):
        assert client.get(f"/v1/affiliate/invoices/{one}", headers=auth(keys, who)).status_code == 403
    assert client.get(f"/v1/affiliate/invoices/{one}").status_code == 401
    assert client.get("/v1/affiliate/invoices/..%2f..%2fetc", headers=auth(keys, "aff-1")).status_code \
        in (404, 422)


def test_a_consent_withdrawn_players_entries_keep_their_amount_not_the_player(service) -> None:
    from tests.integration.test_clickhouse_affiliate_players import status

    client, keys, sink = service
    write_batch(sink.client, sink.db, [
        entry("s1", "aff-1", "2026-10", "30.00"), entry("w1", "aff-1", "2026-10", "30.00"),
        entry("n1", "aff-1", "2026-10", "5.00"),  # no status in ClickHouse yet: not shown either
        status("tok-s1", 1, affiliate="aff-1"), status("tok-w1", 1, affiliate="aff-1", shares=False),
    ])
    params = {"period": "2026-10"}
    mine = client.get("/v1/affiliate/ledger", params=params, headers=auth(keys, "aff-1")).json()
    assert sorted((str(e["player_token"]), e["amount"], e["caused_by"]) for e in mine) == [
        ("None", "30.00", []), ("None", "5.00", []), ("tok-s1", "30.00", ["s1"])]
    old_route = client.get("/v1/reports/ledger", params={**params, "affiliate_id": "aff-1"},
                           headers=auth(keys, "aff-1")).json()
    assert sorted(str(e["player_token"]) for e in old_route) == ["None", "None", "tok-s1"]
    admin = client.get("/v1/affiliate/ledger", params={**params, "affiliate_id": "aff-1"},
                       headers=auth(keys, "admin")).json()
    assert sorted(e["player_token"] for e in admin) == ["tok-n1", "tok-s1", "tok-w1"]  # the operator's
    [row] = client.get("/v1/affiliate/statements", params=params, headers=auth(keys, "aff-1")).json()
    assert row["total"] == "65.00"  # in the totals
