"""The shared postback builder: what a postback carries, and ids that survive a replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from clickpath.contracts.models import DeliveryAttempt, Postback
from clickpath.contracts.topics import Topic
from clickpath.domain.postbacks import make_postback, postback_id, suppressed_postback
from clickpath.domain.pseudonym import player_token
from tests.factories import at


@dataclass
class Credit:
    """Whom a postback credits, as a stage other than the player stage would hold it."""

    affiliate_id: str = "aff-1"
    campaign_id: str = "camp-1"
    click_id: str | None = "c1"
    subs: list[str | None] = field(default_factory=lambda: ["s1", None, None, None, "s5"])


def test_postback_ids_are_the_ones_already_sent() -> None:
    """Golden: receivers and the delivery engine drop a repeat by this id, so a postback made
    again after an upgrade must keep the id it had."""
    assert postback_id("brand-a:p1", "aff-1", "registration") == "92af12d0734ca34973c4145467c0e13f"
    assert postback_id("brand-a:p1", "aff-1", "deposit|t2") == "9d04adf37baf3a3dd26e7bb102845da9"


def test_a_postback_credits_the_affiliate_and_names_the_player_only_by_token() -> None:
    out = make_postback("brand-a:p1", "brand-a", Credit(), "chargeback", at(5), b"k",
                        key="chargeback|t1", amount=Decimal("10"), currency="EUR",
                        transaction_id="t1", reverses="ftd")
    assert (out.topic, out.key) == (Topic.POSTBACKS, "aff-1")
    p = out.record
    assert isinstance(p, Postback)
    assert p.postback_id == postback_id("brand-a:p1", "aff-1", "chargeback|t1")
    assert (p.event, p.click_id, p.sub1, p.sub5, p.campaign_id) == ("chargeback", "c1", "s1", "s5", "camp-1")
    assert (p.amount, p.currency, p.transaction_id, p.reverses) == (Decimal("10"), "EUR", "t1", "ftd")
    assert p.player_token == player_token(b"k", "aff-1", "brand-a:p1")
    assert "p1" not in p.model_dump_json().replace(p.player_token, "")


def test_a_suppressed_postback_is_logged_under_the_id_it_would_have_had() -> None:
    out = suppressed_postback("brand-a:p1", "brand-a", "aff-1", "ftd", "no-consent", at(9))
    assert (out.topic, out.key) == (Topic.DELIVERY_ATTEMPTS, "aff-1")
    record = out.record
    assert isinstance(record, DeliveryAttempt)
    assert record.job_id == postback_id("brand-a:p1", "aff-1", "ftd")
    assert (record.outcome, record.error, record.event) == ("suppressed", "no-consent", "ftd")
