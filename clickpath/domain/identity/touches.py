"""Touchpoints from the graph: which clicks seen on an account's identifiers are on its path.

The rule is clickpath.domain.touch_linking's (this replaced the ClickHouse sink's linking on
its write path; the attribution paths read what it sends, infra/touchpoints/paths.py): the
click the registration named, always; a click of the same brand on a device the account used,
within the contract attribution's window (`AttributionWindow`: lookback before,
clock skew after the registration, both ends included), so a path and the contract attribution
never disagree. Either kind only for a click of the account's own brand, as there.

A candidate waits in the state until the registration time is known; one that came through an
identifier that stopped linking is dropped. One touchpoint per click, the named click's link
beating a device's (a device link that turns out to be the named click is sent again as one).
Each carries the registration time the paths are measured to; an earlier registration arriving
late sends the account's touchpoints again with it (a link already sent is never withdrawn).
"""

from __future__ import annotations

from datetime import datetime

from clickpath.contracts.models.identity import ClickCandidate, TouchKind, TouchpointLink
from clickpath.contracts.topics import Topic
from clickpath.domain import touch_linking
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.identity.account_state import AccountState
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.outputs import Output
from clickpath.domain.touch_linking import DEVICE, NAMED, ClickKey, RegistrationKey


def window_of(policy: IdentityPolicy) -> AttributionWindow:
    return AttributionWindow(lookback=policy.lookback, clock_skew=policy.skew)


def link_of(
    candidate: ClickCandidate, brand_id: str, registered_at: datetime, window: AttributionWindow
) -> TouchKind | None:
    """How `candidate` is on the path of a registration of `brand_id` at `registered_at`:
    touch_linking's rule, applied to the key the candidate came by (the named click id, or the
    device the click and the account share)."""
    named = candidate.via == NAMED
    click = ClickKey(brand_id=candidate.brand_id, occurred_at=candidate.clicked_at,
                     click_id=candidate.click_id, device_id=candidate.identifier)
    reg = RegistrationKey(brand_id=brand_id, registered_at=registered_at,
                          device_id=candidate.identifier, click_id=candidate.click_id if named else "")
    link = touch_linking.link_of(click, reg, "click" if named else "device", window)
    return "named_click" if link == NAMED else "device" if link == DEVICE else None


def add_candidate(state: AccountState, candidate: ClickCandidate) -> bool:
    """Keep a candidate; False when it adds nothing (known, or through a withdrawn identifier)."""
    if candidate.identifier in state.withdrawn or candidate in state.candidates:
        return False
    state.candidates.append(candidate)
    return True


def drop_withdrawn(state: AccountState) -> None:
    """Forget the candidates that came through an identifier that stopped linking."""
    withdrawn = set(state.withdrawn)
    state.candidates = [c for c in state.candidates if c.identifier not in withdrawn]


def touchpoints(state: AccountState, policy: IdentityPolicy) -> list[Output]:
    """The touchpoints the candidates make that were not sent yet (nothing before the
    registration time is known)."""
    if state.registered_at is None:
        return []
    window = window_of(policy)
    outputs = []
    for c in sorted(state.candidates, key=lambda c: (c.via != NAMED, c.clicked_at, c.click_id)):
        link = link_of(c, state.brand_id, state.registered_at, window)
        held = state.touchpoints.get(c.click_id)
        if link is None or (held is not None and held.link in (link, "named_click")
                            and held.registered_at == state.registered_at):
            continue
        if held is not None and held.link == "named_click":
            link = "named_click"  # only the registration time moved: the stronger link stays
        touch = TouchpointLink(
            account=state.account, brand_id=state.brand_id, click_id=c.click_id,
            affiliate_id=c.affiliate_id, campaign_id=c.campaign_id, clicked_at=c.clicked_at,
            link=link, registered_at=state.registered_at,
        )
        state.touchpoints[c.click_id] = touch
        outputs.append(Output(Topic.IDENTITY_TOUCHPOINTS, state.account, touch))
    return outputs
