"""The identity stage, declared: each brand account's identifiers, scored pairs and person,
keyed `brand_id:player_id` (a canonical click by its `click_id`, until an account names it).

It reads the player stage's canonical events (only the kinds that carry identifiers: the rest
are skipped unread) and its own inbox: what the identifier stage says about the accounts it
shares identifiers with, the clicks seen on them, its merged neighbours' person, unmerges. It
sends sightings to the identifiers' partitions and the graph outward (links, the merge log,
multi-account signals, touchpoints). The decisions are clickpath.domain.identity's; this module
only says how the runtime calls them and counts what they refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from clickpath.contracts.models import (
    CanonicalEvent,
    ClickCandidate,
    ClickClaim,
    IdentifierSighting,
    IdentityEvidence,
    PageView,
    PersonChange,
    PersonLabel,
    Record,
    UnmergeRequest,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.account_state import AccountState, account_of
from clickpath.domain.identity.accounts import (
    decide_inbox,
    observe,
    replay_account,
    within_account_cap,
)
from clickpath.domain.identity.erasure import ERASURE_EVENT, erase, erasure_outputs
from clickpath.domain.identity.page_views import observe_page_view, on_claim, resend_page_views
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.identity.sightings import (
    KINDS,
    Reveal,
    Sightings,
    page_view_sightings,
    sightings_of,
)
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Outcome, Output
from clickpath.domain.runs import Positioned
from clickpath.infra.metrics import IDENTITY_ERASURES, IDENTITY_REFUSED, IDENTITY_UNMERGES
from clickpath.streams.runtime import Stage

STATE_FORMAT = 1
# The canonical events that carry identifiers, erasure requests and page views; deposits,
# wagers and the rest cost no decode.
IDENTITY_EVENT_TYPES: Final = frozenset(KINDS) | {"page_view", ERASURE_EVENT}


def identity_stage(
    policy: Callable[[], IdentityPolicy], reveal: Reveal | None = None
) -> Stage[AccountState]:
    """`policy()`: the identity rules in force now; `reveal`: opens the personal fields the doors
    sealed under each account's key (infra/person_keys.py), None where no key store is kept."""

    def decide(state: AccountState | None, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> tuple[AccountState, list[Output], Outcome]:
        record, rules = item.record, policy()
        if state is not None and state.erasure is not None:
            return state, [], Outcome.DUPLICATE  # erased: nothing brings the account back
        if isinstance(record, CanonicalEvent) and record.event_type == ERASURE_EVENT:
            IDENTITY_ERASURES.labels(record.source).inc()
            return erase(state, record, rules, now)
        if isinstance(record, CanonicalEvent):
            found = sightings_of(record, rules, reveal) if reveal else sightings_of(record, rules)
            kept, capped = within_account_cap(state, _counted(found), rules)
            for kind, reason in capped:
                IDENTITY_REFUSED.labels(kind, reason).inc()
            return observe(state, record, kept, rules, now)
        if isinstance(record, PageView):
            return observe_page_view(state, record, _counted(page_view_sightings(record, rules)),
                                     rules)
        if isinstance(record, ClickClaim):
            return on_claim(state, record, rules)
        decided = decide_inbox(state, record, rules, now)
        for out in decided[1]:
            if isinstance(out.record, PersonChange) and out.record.kind == "unmerge":
                IDENTITY_UNMERGES.labels(out.record.reason).inc()
        return decided

    def replay(state: AccountState, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> list[Output]:
        if state.erasure is not None:
            return erasure_outputs(state, policy())
        if isinstance(item.record, PageView | ClickClaim):
            return resend_page_views(state)
        return replay_account(state, item.record, policy(), now)

    return Stage(
        name="identity",
        inputs=(Topic.CANONICAL, Topic.PAGE_VIEWS, Topic.IDENTITY_INBOX),
        key_of=_account_key,
        accepts=(CanonicalEvent, PageView, IdentityEvidence, ClickCandidate, ClickClaim,
                 PersonLabel, UnmergeRequest),
        state_model=AccountState,
        state_format=STATE_FORMAT,
        decide=decide,
        replay=replay,
        timed=(CanonicalEvent, PageView),
        wants=lambda record: not isinstance(record, CanonicalEvent)
        or record.event_type in IDENTITY_EVENT_TYPES,
        wants_kind=lambda kind: kind in IDENTITY_EVENT_TYPES,
    )


def _counted(found: Sightings) -> tuple[IdentifierSighting, ...]:
    """The sightings to send; the refused values counted (by kind and reason, never value)."""
    for kind, reason in found.refused:
        IDENTITY_REFUSED.labels(kind, reason).inc()
    return found.sent


def _account_key(record: Record) -> str:
    if isinstance(record, CanonicalEvent):
        return account_of(record)
    if isinstance(record, PageView):
        return record.click_id
    assert isinstance(record, IdentityEvidence | ClickCandidate | ClickClaim | PersonLabel
                      | UnmergeRequest)
    return record.account
