"""Webhook records (the webhooks topic) become jobs for the subscribed endpoints in scope, and
their requests show the player as each endpoint may see it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal

from clickpath.contracts.models import PostbackRevocation
from clickpath.contracts.topics import Topic
from clickpath.domain.pseudonym import player_token
from clickpath.domain.webhooks import qualified_cpa_webhook, statement_closed_webhooks
from tests.unit.domain.test_webhooks import row
from tests.unit.sinks.conftest import START, endpoint


def hook(endpoint_id: str, events: list[str], affiliate: str | None = None,
         brand: str | None = None):
    return endpoint(endpoint_id, kind="webhook", method="POST", affiliate=affiliate,
                    path=f"/{endpoint_id}", brand_id=brand).model_copy(update={"events": events})


def cpa_webhook(block: str | None = None):
    out = qualified_cpa_webhook(
        person_id="brand-a:p1", brand_id="brand-a", affiliate_id="aff-1", campaign_id="camp-1",
        click_id="c1", qualified_at=datetime.fromtimestamp(START - 60, UTC), period="2023-11",
        payout=Decimal("30.00"), payout_currency="EUR", plan=("cpa-1", 1), affiliate_block=block,
    )
    return out.record


ENDPOINTS = [
    hook("ops", ["statement_closed", "qualified_cpa"]),
    hook("mgr-1", ["statement_closed", "qualified_cpa"], affiliate="aff-1"),
    hook("mgr-2", ["statement_closed", "qualified_cpa"], affiliate="aff-2"),
    hook("crm-a", ["qualified_cpa"], brand="brand-a"),
    hook("crm-b", ["qualified_cpa"], brand="brand-b"),
    hook("kyc", ["kyc_changed"]),
]


def test_a_statement_goes_to_endpoints_of_every_brand_and_its_own_affiliates(make_engine) -> None:
    h = make_engine(ENDPOINTS)
    for n, record in enumerate(statement_closed_webhooks([row("aff-1"), row("aff-2")])):
        h.read(record, offset=n, topic=Topic.WEBHOOKS)
    lanes = {e: len(h.pending(e)) for e in ("ops", "mgr-1", "mgr-2", "crm-a", "crm-b", "kyc")}
    assert lanes == {"ops": 2, "mgr-1": 1, "mgr-2": 1, "crm-a": 0, "crm-b": 0, "kyc": 0}
    asyncio.run(h.attempt_all_due("mgr-1"))
    [request] = h.partner.requests
    body = json.loads(request.content)
    assert body["type"] == "statement.closed"
    assert (body["data"]["affiliate_id"], body["data"]["total"]) == ("aff-1", "125.00")
    assert "player_id" not in body["data"] and "player_token" not in body["data"]


def test_a_qualified_cpa_shows_the_player_id_to_operators_and_the_token_to_managers(make_engine) -> None:
    h = make_engine(ENDPOINTS)
    h.read(cpa_webhook(), offset=0, topic=Topic.WEBHOOKS)
    assert {e for e in ("ops", "mgr-1", "mgr-2", "crm-a", "crm-b") if h.pending(e)} == {
        "ops", "mgr-1", "crm-a"}
    for e in ("ops", "mgr-1"):
        asyncio.run(h.attempt_all_due(e))
    ops, mgr = (json.loads(r.content) for r in h.partner.requests)
    assert ops["type"] == mgr["type"] == "player.qualified_cpa"
    assert (ops["data"]["player_id"], ops["data"]["payout"], ops["data"]["payout_currency"]) == (
        "p1", "30.00", "EUR")
    assert "player_token" not in ops["data"]
    key = h.settings.pseudonym_key.get_secret_value().encode()
    assert mgr["data"]["player_token"] == player_token(key, "aff-1", "brand-a:p1")
    assert "player_id" not in mgr["data"]
    ids = {r.headers["webhook-id"] for r in h.partner.requests}
    assert len(ids) == 2  # one delivery id per endpoint, stable across replays
    logged = h.produced(Topic.DELIVERY_ATTEMPTS)
    assert [(a.outcome, a.event, a.brand_id) for a in logged] == [  # type: ignore[attr-defined]
        ("delivered", "qualified_cpa", "brand-a")] * 2


def test_a_blocked_player_reaches_no_endpoint_scoped_to_the_affiliate(make_engine) -> None:
    h = make_engine(ENDPOINTS)
    h.read(cpa_webhook(block="affiliate_data_sharing consent withdrawn"), offset=0, topic=Topic.WEBHOOKS)
    assert {e for e in ("ops", "mgr-1", "crm-a") if h.pending(e)} == {"ops", "crm-a"}


def test_a_revoked_player_reaches_operators_only_even_when_the_webhook_was_made_before(make_engine) -> None:
    """The player stage revokes (consent withdrawn) after the CPA's webhook was made: the
    affiliate manager's delivery is suppressed when it comes to be attempted; the operator's goes."""
    h = make_engine(ENDPOINTS)
    h.read(cpa_webhook(), offset=0, topic=Topic.WEBHOOKS)
    key = h.settings.pseudonym_key.get_secret_value().encode()
    h.read(PostbackRevocation(affiliate_id="aff-1", player_token=player_token(key, "aff-1", "brand-a:p1"),
                              reason="consent withdrawn", revoked_at=datetime.fromtimestamp(START, UTC)),
           offset=0)
    for e in ("ops", "mgr-1"):
        asyncio.run(h.attempt_all_due(e))
    assert [r.url.path for r in h.partner.requests] == ["/ops"]
    logged = {a.endpoint_id: (a.outcome, a.error) for a in h.produced(Topic.DELIVERY_ATTEMPTS)}  # type: ignore[attr-defined]
    assert logged == {"ops": ("delivered", None), "mgr-1": ("suppressed", "consent withdrawn")}
