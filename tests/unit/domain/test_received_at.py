"""Postbacks carry when clickpath received their cause, so the delivered latency measures
clickpath's delay and never the age of a backdated event (docs/operations.md)."""

from __future__ import annotations

from datetime import timedelta

from clickpath.contracts.models import Attribution, Postback
from clickpath.contracts.topics import Topic
from clickpath.domain.outputs import Output, received_at_of, with_received_at
from tests.factories import at, registration


def _postback(**extra: object) -> Postback:
    return Postback(postback_id="pb", affiliate_id="aff-1", campaign_id="camp-1",
                    brand_id="brand-a", event="registration", click_id="c1", player_token="t",
                    occurred_at=at(-14 * 24 * 60), **extra)


def test_the_received_time_is_the_doors_then_the_decisions_then_the_callers() -> None:
    reg = registration("p1", "c1").model_copy(update={"received_at": at(5)})
    assert received_at_of(reg, at(9)) == at(5)
    assert received_at_of(registration("p1", "c1"), at(9)) == at(9)  # no door stamped it
    decision = Attribution(person_id="brand-a:p1", brand_id="brand-a", player_id="p1",
                           click_id="c1", status="attributed", registered_at=at(-14 * 24 * 60),
                           decided_at=at(7))
    assert received_at_of(decision, at(9)) == at(7)


def test_only_postbacks_are_stamped_and_a_stamp_is_kept() -> None:
    reg = registration("p1", "c1")
    outputs = [Output(Topic.POSTBACKS, "aff-1", _postback()), Output(Topic.CANONICAL, "k", reg),
               Output(Topic.POSTBACKS, "aff-1", _postback(received_at=at(1)))]
    stamped = with_received_at(outputs, at(3))
    assert [getattr(o.record, "received_at", None) for o in stamped] == [at(3), None, at(1)]
    assert stamped[1] is outputs[1]
    assert stamped[0].record.occurred_at == at(0) - timedelta(days=14)
