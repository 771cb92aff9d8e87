"""The player stage's decision: one record (an event or an attribution) advances the player.

Here are the rules that say what a record changes: dedup (the event id within a bounded
window, one registration per player, money events by their natural keys in domain/money.py),
registration, and tagging (an attribution taken once for life). What follows from a change is
delegated by role: facts (facts.py), conversion postbacks and revocations (conversions.py),
deposit postbacks (deposits.py), activity (activity.py).
"""

from __future__ import annotations

from datetime import datetime

from clickpath.contracts.models import (
    Attribution,
    Consent,
    ErasureRequest,
    PlayerEvent,
    Registration,
    ResponsibleGaming,
)
from clickpath.contracts.topics import Topic
from clickpath.domain import recent_ids
from clickpath.domain.clicks import link_of
from clickpath.domain.consent import apply_consent, apply_rg
from clickpath.domain.day_value import DayBook
from clickpath.domain.ledger import Ledger
from clickpath.domain.money import MoneyEvent, apply_money
from clickpath.domain.outputs import Outcome, Output, canonical_of
from clickpath.domain.players.activity import note_activity
from clickpath.domain.players.conversions import due_postbacks, revocations
from clickpath.domain.players.deposits import money_postbacks
from clickpath.domain.players.facts import (
    all_fact_keys,
    changed_facts,
    fact_keys,
    funnel_facts,
    keys_of,
)
from clickpath.domain.players.state import PlayerPolicy, PlayerState, Tag, copy_for_update


def decide_player(
    state: PlayerState | None,
    record: PlayerEvent | Attribution,
    policy: PlayerPolicy,
    now: datetime,
    linked: bool = False,
    *,
    ledger: Ledger,
) -> tuple[PlayerState, list[Output], Outcome]:
    """Advance the player by one record. `linked`: a registration already linked to its click
    by the click stage (it came that way), so no `ClickLink` is sent for it. `ledger`: the
    player's rows, read and changed in place (the caller stores what changed with the state).

    Rows: a money event reads and writes its natural key (`T|`, `C|`, `W|`, `B|`), its day
    (`D|`), the day index `I` and FTD candidates `A|` (domain/money.py); a re-tag reads `I` and
    every `D|`; facts read the `D|` they send; deposit postbacks read `T|d|`, `A|` and `P|` and
    write `P|` (a chargeback notes itself in its deposit's `P|`, whatever the tag); the FTD
    postback writes its deposit's `P|`."""
    if state is None:
        state = PlayerState(brand_id=record.brand_id, player_id=record.player_id)
    else:
        state = copy_for_update(state)
    # Registrations and attributions move facts the state marks (compared before and after);
    # money events name the days they changed; other events change no fact.
    reshapes = isinstance(record, (Registration, Attribution))
    touched = fact_keys(state) | keys_of(record) if reshapes else set()
    before_facts = funnel_facts(state, ledger, touched) if reshapes else {}
    before_tag, before_registered = state.tag, state.registered_at
    outputs: list[Output] = []

    if isinstance(record, Attribution):
        if not _apply_attribution(state, record):
            return state, [], Outcome.DUPLICATE
    else:
        event_digest = recent_ids.digest(record.event_id)
        if recent_ids.seen_digest(state.recent_ids, event_digest):
            return state, [], Outcome.DUPLICATE
        if isinstance(record, Registration):
            if state.registration_event_id is not None:
                return state, [], Outcome.DUPLICATE
            outputs += _apply_registration(state, record, linked)
        if isinstance(record, Consent):
            if apply_consent(state.consents, record):
                outputs += revocations(state, policy, record.occurred_at, now)
        elif isinstance(record, ResponsibleGaming):
            apply_rg(state.rg_active, record)
            outputs += revocations(state, policy, record.occurred_at, now)
        elif isinstance(record, ErasureRequest):
            state.erased = True  # the sub ids leave the state; the money and the tag stay
            if state.tag is not None:
                state.tag = state.tag.model_copy(update={"subs": [None] * 5})
        is_ftd = False
        if isinstance(record, MoneyEvent):
            applied = apply_money(DayBook(ledger, state.lifetime), state.first_deposit, record)
            if not applied.changed:
                return state, [], Outcome.DUPLICATE
            state.first_deposit = applied.first_deposit
            touched, is_ftd = applied.touched, applied.is_ftd
        note_activity(state, record)
        state.recent_ids = recent_ids.remember(state.recent_ids, event_digest, policy.recent_ids)
        canonical = canonical_of(record, state.person_id, now, is_ftd)
        outputs.append(Output(Topic.CANONICAL, state.person_id, canonical))

    state.version += 1
    # Every fact carries the tag and the registration time (cohorts): when either changes, all
    # of the player's facts are sent again (a registration after deposits dates them all).
    retag = state.tag != before_tag or state.registered_at != before_registered
    keys = (
        all_fact_keys(state, ledger) if retag
        else touched | (fact_keys(state) if reshapes else set())
    )
    outputs += changed_facts(state, ledger, keys, before_facts, retag)
    outputs += due_postbacks(state, ledger, policy, now)
    outputs += money_postbacks(state, ledger, record, policy, now)
    return state, outputs, Outcome.ACCEPTED


def click_links(state: PlayerState, reg: Registration) -> list[Output]:
    """The link that tells the click stage who registered through its click. Reads no row."""
    if reg.click_id is None:
        return []
    return [Output(Topic.CLICK_LINKS, reg.click_id, link_of(reg))]


def _apply_registration(state: PlayerState, reg: Registration, linked: bool) -> list[Output]:
    state.registration_event_id = reg.event_id
    state.registered_at = reg.occurred_at
    state.click_id = reg.click_id
    if reg.click_id is None:
        state.tag = Tag(status="organic")
    return [] if linked else click_links(state, reg)


def _apply_attribution(state: PlayerState, decision: Attribution) -> bool:
    """Take a decision for the player's current registration; False when nothing changes."""
    if state.tag is not None and state.tag.status == "attributed":
        return False  # tagged for life
    if state.click_id is not None and decision.click_id != state.click_id:
        return False  # a decision about a click this player's registration does not name
    if state.registered_at is None:
        state.registered_at = decision.registered_at
        state.click_id = decision.click_id
    new_tag = Tag(
        status=decision.status,
        affiliate_id=decision.affiliate_id or "",
        campaign_id=decision.campaign_id or "",
        click_id=decision.click_id,
        subs=[None] * 5 if state.erased else
        [decision.sub1, decision.sub2, decision.sub3, decision.sub4, decision.sub5],
        reason=decision.reason,
    )
    if new_tag == state.tag:
        return False
    state.tag = new_tag
    return True
