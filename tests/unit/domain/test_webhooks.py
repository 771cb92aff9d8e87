"""statement_closed webhook records from closed statement rows: the row is the payload, the id
is the close's own (the same close published again, the same ids), a bad row is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from clickpath.contracts.serde import build_codec
from clickpath.domain.endpoints import Endpoint
from clickpath.domain.webhooks import player_id_of, statement_closed_webhooks


def row(affiliate: str = "aff-1", period: str = "2026-11", currency: str = "EUR",
        closed_at: str = "2026-12-01T09:00:00Z", **extra: object) -> dict[str, object]:
    return {
        "affiliate_id": affiliate, "period": period, "currency": currency, "cpa_count": 1,
        "cpa_amount": "125.00", "revshare_amount": "0.00", "sub_affiliate_amount": "0.00",
        "clawback_amount": "0.00", "carry_over": "0.00", "total": "125.00", "status": "closed",
        "as_of": "2026-12-01T09:00:00Z", "entries": 1, "invoice_number": "INV-2026-11-0001",
        "closed_at": closed_at, "closed_by": "ops@example", **extra,
    }


def test_each_row_is_one_record_whose_payload_is_the_row() -> None:
    rows = [row(), row("aff-2", manual_amount="-5.00", roll_over=True)]
    first, second = statement_closed_webhooks(rows)
    assert (first.event, first.affiliate_id, first.brand_id, first.person_id) == (
        "statement_closed", "aff-1", None, None)
    assert first.occurred_at == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert json.loads(first.data) == {"event": "statement_closed", **rows[0]}
    assert json.loads(second.data)["manual_amount"] == "-5.00"  # unknown keys pass through
    assert json.loads(second.data)["roll_over"] is True
    codec = build_codec(None, None)
    assert codec.decode(codec.encode(first)) == first


def test_the_ids_are_the_closes_own() -> None:
    ids = [w.webhook_id for w in statement_closed_webhooks([row(), row("aff-2")])]
    assert ids == [w.webhook_id for w in statement_closed_webhooks([row(), row("aff-2")])]
    assert len(set(ids)) == 2
    others = [row(period="2026-10"), row(currency="USD"), row(closed_at="2026-12-02T09:00:00Z")]
    other_ids = {w.webhook_id for w in statement_closed_webhooks(others)}
    assert len(other_ids) == 3 and not other_ids & set(ids)  # a period closed again is new
    # the same instant written in another zone is the same close
    [same] = statement_closed_webhooks([row(closed_at="2026-12-01T10:00:00+01:00")])
    assert same.webhook_id == ids[0]


def test_a_row_that_is_no_closed_statement_is_refused() -> None:
    broken = row()
    del broken["invoice_number"]
    with pytest.raises(ValueError, match="missing invoice_number"):
        statement_closed_webhooks([broken])
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        statement_closed_webhooks([row(closed_at="yesterday")])
    with pytest.raises(ValueError, match="no zone"):
        statement_closed_webhooks([row(closed_at="2026-12-01T09:00:00")])


def test_statement_closed_is_a_webhook_event_but_not_for_an_endpoint_of_one_brand() -> None:
    base = {"endpoint_id": "fin", "kind": "webhook", "method": "POST",
            "url": "https://finance.example/hooks", "events": ["statement_closed", "qualified_cpa"]}
    Endpoint.model_validate(base)
    Endpoint.model_validate({**base, "affiliate_id": "aff-1"})
    with pytest.raises(ValidationError, match="statement_closed is an affiliate's statement"):
        Endpoint.model_validate({**base, "brand_id": "luckyspin"})
    with pytest.raises(ValidationError, match="unknown"):
        Endpoint.model_validate({**base, "kind": "postback", "affiliate_id": "aff-1",
                                 "method": "GET", "url": "https://x.example/pb?e={event}"})


def test_the_player_id_is_read_from_the_brand_account() -> None:
    assert player_id_of("brand-a:p:1", "brand-a") == "p:1"
    assert player_id_of("person-9", "brand-a") is None
