from __future__ import annotations

from datetime import timedelta

from clickpath.contracts.models import Attribution, CanonicalEvent, ClickLink
from clickpath.contracts.topics import Topic
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.clicks import decide_click
from clickpath.domain.outputs import Outcome
from tests.factories import at, click, registration

LOOKBACK = AttributionWindow(timedelta(days=30))


def link_for(player: str, click_id: str, minutes: float = 1, brand: str = "brand-a") -> ClickLink:
    reg = registration(player, click_id, minutes, brand)
    return ClickLink(click_id=click_id, person_id=reg.person_id, brand_id=brand, player_id=player,
                     registration_event_id=reg.event_id, registered_at=reg.occurred_at)


def run(records):
    state, outputs = None, []
    for r in records:
        state, outs, _ = decide_click(state, r, LOOKBACK, at(100))
        outputs += outs
    return state, outputs


def attributions(outputs) -> list[Attribution]:
    return [o.record for o in outputs if o.topic is Topic.ATTRIBUTIONS]


def test_click_then_registration_and_registration_then_click_agree() -> None:
    c = click("c1", affiliate="aff-9", campaign="spring", sub1="s1")
    _, in_order = run([c, link_for("p1", "c1")])
    _, reversed_order = run([link_for("p1", "c1"), c])
    a, b = attributions(in_order)[0], attributions(reversed_order)[0]
    assert a.model_dump(exclude={"decided_at"}) == b.model_dump(exclude={"decided_at"})
    assert (a.status, a.affiliate_id, a.campaign_id, a.sub1) == ("attributed", "aff-9", "spring", "s1")
    assert a.person_id == "brand-a:p1"


def test_click_emits_one_canonical_event_and_duplicates_are_dropped() -> None:
    c = click("c1")
    state, outs, outcome = decide_click(None, c, LOOKBACK, at(0))
    assert outcome is Outcome.ACCEPTED
    assert [type(o.record) for o in outs] == [CanonicalEvent]
    _, outs, outcome = decide_click(state, c.model_copy(update={"event_id": "other"}), LOOKBACK, at(0))
    assert (outs, outcome) == ([], Outcome.DUPLICATE)


def test_a_replayed_link_is_answered_once() -> None:
    _, outputs = run([click("c1"), link_for("p1", "c1"), link_for("p1", "c1")])
    assert len(attributions(outputs)) == 1


def test_lookback_window_and_event_order_are_enforced() -> None:
    old = click("c1", minutes=-(31 * 24 * 60))
    _, outputs = run([old, link_for("p1", "c1")])
    a = attributions(outputs)[0]
    assert (a.status, a.reason) == ("unattributed", "outside_lookback")
    _, outputs = run([click("c2", minutes=7), link_for("p2", "c2", minutes=1)])
    assert attributions(outputs)[0].reason == "click_after_registration"
    _, outputs = run([click("c3", brand="brand-b"), link_for("p3", "c3")])
    assert attributions(outputs)[0].reason == "other_brand"


def test_a_click_within_the_clock_skew_after_the_registration_counts() -> None:
    """The tracker's clock and the operator's differ: a click stamped the same second as the
    registration (later by milliseconds) or a little after it is the player's click."""
    reg_minutes = 1
    same_second = reg_minutes + 0.7 / 60
    for offset in (0, same_second, reg_minutes + 4.9):  # at, +0.7 s, +4 min 54 s (skew 5 min)
        _, outputs = run([click("c1", minutes=offset, affiliate="aff-7"), link_for("p1", "c1")])
        a = attributions(outputs)[0]
        assert (a.status, a.affiliate_id, a.reason) == ("attributed", "aff-7", None), offset
    _, outputs = run([click("c1", minutes=reg_minutes + 5.1), link_for("p1", "c1")])
    assert (attributions(outputs)[0].status, attributions(outputs)[0].reason) == (
        "unattributed", "click_after_registration")


def test_the_clock_skew_is_a_setting_and_zero_means_strictly_before() -> None:
    strict = AttributionWindow(timedelta(days=30), clock_skew=timedelta(0))
    c, link = click("c1", minutes=1 + 0.7 / 60), link_for("p1", "c1")
    _, outs, _ = decide_click(decide_click(None, c, strict, at(100))[0], link, strict, at(100))
    assert attributions(outs)[0].reason == "click_after_registration"
    assert strict.holds(at(1), at(1)) and AttributionWindow(timedelta(days=30)).holds(at(6), at(1))


def test_pending_link_waits_for_its_click() -> None:
    state, outputs = run([link_for("p1", "c1")])
    assert attributions(outputs) == [] and len(state.pending_links) == 1


def test_a_registration_before_its_click_is_forwarded_now_and_decided_when_the_click_comes() -> None:
    reg = registration("p1", "c1")
    state, outs, outcome = decide_click(None, reg, LOOKBACK, at(100))
    assert outcome is Outcome.ACCEPTED
    assert [(o.topic, o.key, o.record) for o in outs] == [(Topic.ATTRIBUTIONS, reg.person_id, reg)]
    _, again, outcome = decide_click(state, reg, LOOKBACK, at(100))
    assert (again, outcome) == ([], Outcome.DUPLICATE)
    _, later, _ = decide_click(state, click("c1", affiliate="aff-3"), LOOKBACK, at(100))
    assert [a.affiliate_id for a in attributions(later)] == ["aff-3"]


def test_a_registration_and_a_link_of_the_same_player_count_once() -> None:
    state, _, _ = decide_click(None, registration("p1", "c1"), LOOKBACK, at(100))
    _, outs, outcome = decide_click(state, link_for("p1", "c1"), LOOKBACK, at(100))
    assert (outs, outcome) == ([], Outcome.DUPLICATE)
