"""A player's postbacks are made in business order on one key (docs/delivery.md, "Order of
postbacks"): registration, FTD, later deposits. The delivery engine's concurrency may reorder
them on the way to a partner; the documented guarantee is this one, and the section says so."""

from __future__ import annotations

from pathlib import Path

from clickpath.contracts.models import Postback
from clickpath.contracts.topics import Topic
from tests.factories import click, deposit, registration
from tests.unit.domain.test_players import simulate

DOC = (Path(__file__).resolve().parents[3] / "docs" / "delivery.md").read_text()


def postbacks(outputs) -> list[tuple[str, str]]:
    return [(o.key, o.record.event) for o in outputs
            if o.topic is Topic.POSTBACKS and isinstance(o.record, Postback)]


def test_the_click_last_makes_the_registration_then_the_ftd_under_one_key() -> None:
    """Registration and two deposits known before the click: one decision makes them all due."""
    events = [registration("p1", "c1"), deposit("p1", "t1", "10.00", minutes=2),
              deposit("p1", "t2", "20.00", minutes=3), click("c1", affiliate="aff-1")]
    _, outputs = simulate(events)
    assert postbacks(outputs) == [("aff-1", "registration"), ("aff-1", "ftd"), ("aff-1", "deposit")]


def test_in_arrival_order_the_postbacks_keep_the_same_order() -> None:
    events = [click("c1", affiliate="aff-1"), registration("p1", "c1"),
              deposit("p1", "t1", "10.00", minutes=2), deposit("p1", "t2", "20.00", minutes=3)]
    _, outputs = simulate(events)
    assert postbacks(outputs) == [("aff-1", "registration"), ("aff-1", "ftd"), ("aff-1", "deposit")]


def test_the_delivery_doc_says_what_is_ordered_and_what_a_partner_should_do() -> None:
    section = DOC[DOC.index("## Order of postbacks"):].split("\n## ")[0]
    for needed in ("DELIVERY_ENDPOINT_CONCURRENCY=1", "{click_id}", "{timestamp}",
                   "Idempotency-Key", "test_postback_order.py", "0 of 300"):
        assert needed in section, needed
