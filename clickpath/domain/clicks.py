"""Per-click state: the click itself and the registrations that name it.

Both arrive keyed by `click_id`, in either order. Whichever comes second completes the pair and
the attribution is decided then, so the result does not depend on arrival order. A click is
unique by `click_id` (its natural key): a second click event with the same id is a duplicate.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from clickpath.contracts.models import Attribution, Click, ClickLink
from clickpath.contracts.topics import Topic
from clickpath.domain.attribution import attribute
from clickpath.domain.outputs import Outcome, Output, canonical_of


class ClickState(BaseModel):
    click: Click | None = None
    pending_links: list[ClickLink] = []
    answered_person_ids: list[str] = []
    decisions: list[Attribution] = []


def replay_click_outputs(
    state: ClickState, record: Click | ClickLink, now: datetime
) -> list[Output]:
    """What to send again for a record `state` already applied (read again after a crash):
    the click's canonical event and every decision made, all idempotent downstream."""
    outputs = []
    first = state.click
    if isinstance(record, Click) and first is not None and first.event_id == record.event_id:
        canonical = canonical_of(record, person_id="", now=now)
        outputs.append(Output(Topic.CANONICAL, record.click_id, canonical))
    outputs += [Output(Topic.ATTRIBUTIONS, d.person_id, d) for d in state.decisions]
    return outputs


def decide_click(
    state: ClickState | None,
    record: Click | ClickLink,
    lookback: timedelta,
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
        seen = state.answered_person_ids + [link.person_id for link in state.pending_links]
        if record.person_id in seen:
            return state, [], Outcome.DUPLICATE
        outputs = []
        links = [record]
        if state.click is None:
            state.pending_links.append(record)
            return state, outputs, Outcome.ACCEPTED

    for link in links:
        decision = attribute(state.click, link, lookback, now)
        state.answered_person_ids.append(link.person_id)
        state.decisions.append(decision)
        outputs.append(Output(Topic.ATTRIBUTIONS, link.person_id, decision))
    return state, outputs, Outcome.ACCEPTED
