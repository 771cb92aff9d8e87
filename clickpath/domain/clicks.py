"""Per-click state: the click itself and the registrations that name it.

Both arrive keyed by `click_id`, in either order. Whichever comes second completes the pair and
the attribution is decided then, so the result does not depend on arrival order. A click is
unique by `click_id` (its natural key): a second click event with the same id is a duplicate.

A registration that names a click comes here first when a door produced it (its key is the
click): this stage links it, forwards the registration to the player's partition and, when the
click is known, sends the decision right behind it, so the player stage applies both at once and
the registration postback is two agent hops from the registration. A registration that went to
the player first (an operator producing its own records) arrives as a `ClickLink` instead.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from clickpath.contracts.models import Attribution, Click, ClickLink, Registration
from clickpath.contracts.topics import Topic
from clickpath.domain.attribution import AttributionWindow, attribute
from clickpath.domain.outputs import Outcome, Output, canonical_of


class ClickState(BaseModel):
    click: Click | None = None
    pending_links: list[ClickLink] = []
    answered_person_ids: list[str] = []
    decisions: list[Attribution] = []


ClickInput = Click | ClickLink | Registration


def link_of(reg: Registration) -> ClickLink:
    """The link a registration makes to the click it names."""
    assert reg.click_id is not None
    return ClickLink(
        click_id=reg.click_id,
        person_id=reg.person_id,
        brand_id=reg.brand_id,
        player_id=reg.player_id,
        registration_event_id=reg.event_id,
        registered_at=reg.occurred_at,
    )


def replay_click_outputs(state: ClickState, record: ClickInput, now: datetime) -> list[Output]:
    """What to send again for a record `state` already applied (read again after a crash):
    the click's canonical event, a forwarded registration and every decision made, all
    idempotent downstream."""
    outputs = []
    first = state.click
    if isinstance(record, Click) and first is not None and first.event_id == record.event_id:
        canonical = canonical_of(record, person_id="", now=now)
        outputs.append(Output(Topic.CANONICAL, record.click_id, canonical))
    if isinstance(record, Registration):
        outputs.append(Output(Topic.ATTRIBUTIONS, record.person_id, record))
    outputs += [Output(Topic.ATTRIBUTIONS, d.person_id, d) for d in state.decisions]
    return outputs


def decide_click(
    state: ClickState | None,
    record: ClickInput,
    window: AttributionWindow,
    now: datetime,
) -> tuple[ClickState, list[Output], Outcome]:
    state = (
        state.model_copy(
            update={
                "pending_links": list(state.pending_links),
                "answered_person_ids": list(state.answered_person_ids),
                "decisions": list(state.decisions),
            }
        )
        if state
        else ClickState()
    )
    if isinstance(record, Click):
        if state.click is not None:
            return state, [], Outcome.DUPLICATE
        state.click = record
        canonical = canonical_of(record, person_id="", now=now)
        outputs = [Output(Topic.CANONICAL, record.click_id, canonical)]
        links, state.pending_links = state.pending_links, []
    else:
        link = link_of(record) if isinstance(record, Registration) else record
        seen = state.answered_person_ids + [p.person_id for p in state.pending_links]
        if link.person_id in seen:
            return state, [], Outcome.DUPLICATE
        # A registration goes on to its player ahead of the decision about it.
        outputs = [Output(Topic.ATTRIBUTIONS, link.person_id, record)] if link is not record else []
        links = [link]
        if state.click is None:
            state.pending_links.append(link)
            return state, outputs, Outcome.ACCEPTED

    for link in links:
        decision = attribute(state.click, link, window, now)
        state.answered_person_ids.append(link.person_id)
        state.decisions.append(decision)
        outputs.append(Output(Topic.ATTRIBUTIONS, link.person_id, decision))
    return state, outputs, Outcome.ACCEPTED
