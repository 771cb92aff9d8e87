"""The account's touchpoints (clickpath.domain.identity.touches): the clicks the graph brings
are on the path by touch_linking's rule, each sent once with the registration time the
attribution paths are measured to, and sent again when an earlier registration moves it."""

from __future__ import annotations

from clickpath.contracts.models.identity import ClickCandidate, TouchpointLink
from clickpath.domain.identity.account_state import fresh_state
from clickpath.domain.identity.accounts import decide_inbox, observe
from clickpath.domain.identity.policy import IdentityPolicy
from tests.unit.domain.identity.inbox_loop import at, event, identifier

POLICY = IdentityPolicy()  # 30 days before, 5 minutes after the registration
ACCOUNT = "brand-a:p1"


def candidate(click_id: str, minutes: float, via: str = "device") -> ClickCandidate:
    return ClickCandidate(
        account=ACCOUNT, click_id=click_id, brand_id="brand-a", affiliate_id=f"aff-{click_id}",
        campaign_id="camp-1", clicked_at=at(minutes), via=via,  # type: ignore[arg-type]
        identifier=identifier("click_id" if via == "named_click" else "device_id", "d1"),
    )


def sent(outputs: list) -> list[tuple[str, str, object]]:
    return [(o.record.click_id, o.record.link, o.record.registered_at)
            for o in outputs if isinstance(o.record, TouchpointLink)]


def test_touchpoints_carry_the_registration_time_and_follow_an_earlier_registration() -> None:
    state = fresh_state(ACCOUNT, "brand-a", POLICY)
    outputs = []
    for c in (candidate("named", -60, "named_click"), candidate("old", -30 * 24 * 60 + 10),
              candidate("late", 3)):
        state, out, _ = decide_inbox(state, c, POLICY, at(0))
        outputs += out
    assert outputs == []  # nothing before the registration time is known

    state, out, _ = observe(state, event(ACCOUNT, 0, "registration"), [], POLICY, at(0))
    assert sent(out) == [("named", "named_click", at(0)), ("old", "device", at(0)),
                         ("late", "device", at(0))]

    # The same registration again, or a later one, changes nothing.
    for minutes in (0, 60):
        _, out, _ = observe(state, event(ACCOUNT, minutes, "registration", n=1), [], POLICY, at(0))
        assert sent(out) == []

    # An earlier one (arriving late): the clicks still in its window are sent again with it;
    # `late` is now beyond the clock skew, so it is not (nor withdrawn: the paths drop it by
    # the account's earliest registration time).
    earlier = at(-20)
    state, out, _ = observe(state, event(ACCOUNT, -20, "registration", n=2), [], POLICY, at(0))
    assert sent(out) == [("named", "named_click", earlier), ("old", "device", earlier)]
    assert state.registered_at == earlier
    assert {c: t.registered_at for c, t in state.touchpoints.items()} == {
        "named": earlier, "old": earlier, "late": at(0)}


def test_a_device_click_found_to_be_the_named_click_is_sent_again_as_named() -> None:
    state = fresh_state(ACCOUNT, "brand-a", POLICY)
    state, _, _ = observe(state, event(ACCOUNT, 0, "registration"), [], POLICY, at(0))
    state, out, _ = decide_inbox(state, candidate("c1", -5), POLICY, at(0))
    assert sent(out) == [("c1", "device", at(0))]
    state, out, _ = decide_inbox(state, candidate("c1", -5, "named_click"), POLICY, at(0))
    assert sent(out) == [("c1", "named_click", at(0))]
    # ... and never back to a device link
    _, out, _ = decide_inbox(state, candidate("c1", -5), POLICY, at(0))
    assert sent(out) == []
