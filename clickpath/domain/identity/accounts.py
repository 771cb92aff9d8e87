"""The account stage's decisions: one brand account's events and inbox, applied to its state.

Keyed by the brand account (`brand_id:player_id`; a click's `click_id` before any account names
it). Its events tell each identifier what the account saw (`observe`); its inbox brings the
evidence of the accounts it shares identifiers with, the clicks seen on them, its merged
neighbours' labels and unmerges (`decide_inbox`). From these it scores its pairs
(clickpath.domain.identity.pairs), agrees on a person with its merged neighbours
(clickpath.domain.identity.labels) and finds the clicks on its path
(clickpath.domain.identity.touches).

Pure functions of (state, record, policy, now): no Kafka, no clock, no table read behind the
decision's back. A record that changes nothing is `Outcome.DUPLICATE` (it may still answer a
neighbour's stale label), so the same records in any order and any number of copies end in the
same graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from clickpath.contracts.models import CanonicalEvent
from clickpath.contracts.models.identity import (
    ClickCandidate,
    IdentifierSighting,
    IdentityEvidence,
    PersonLabel,
    UnmergeRequest,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.account_state import (
    AccountState,
    account_of,
    brand_of,
    copy_for_update,
    fresh_state,
    outcome_of,
)
from clickpath.domain.identity.labels import (
    REMOVED,
    UNMERGED,
    after_pairs,
    labels_to,
    on_birth,
    on_first_event,
    on_label,
)
from clickpath.domain.identity.page_views import claim_of, resend_page_views
from clickpath.domain.identity.pairs import block_of, record_evidence, refresh_pairs
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.identity.touches import add_candidate, drop_withdrawn, touchpoints
from clickpath.domain.identity.values import day_of
from clickpath.domain.outputs import Outcome, Output

InboxRecord = IdentityEvidence | ClickCandidate | PersonLabel | UnmergeRequest
AccountInput = CanonicalEvent | InboxRecord


def observe(
    state: AccountState | None,
    event: CanonicalEvent,
    sightings: Sequence[IdentifierSighting],
    policy: IdentityPolicy,
    now: datetime,
) -> tuple[AccountState, list[Output], Outcome]:
    """An event of this account, with the identifiers it carries (`sightings`, extracted by the
    identifier side's `sightings_of`). Each identifier's partition is told only of a sighting
    new to it or earlier than the one it had: what it keeps per account is the earliest."""
    old = state or fresh_state(account_of(event), event.brand_id, policy)
    if not event.player_id:  # a click: its sightings go on, nothing about it is kept here
        clicked = [Output(Topic.IDENTITY_SIGHTINGS, s.identifier, s) for s in sightings]
        return old, clicked, Outcome.PASSED
    st = copy_for_update(old)
    outputs: list[Output] = on_first_event(st, now) if event.player_id else []
    if st.birth is None or event.occurred_at < st.birth:
        st.birth = event.occurred_at
        outputs += on_birth(st, now)
    if event.event_type == "registration" and (
        st.registered_at is None or event.occurred_at < st.registered_at
    ):
        st.registered_at = event.occurred_at
        outputs += touchpoints(st, policy)
    for s in sorted(sightings, key=lambda s: (s.identifier, s.seen_at)):
        held = st.sent.get(s.identifier)
        if held is None or s.seen_at < held.seen_at:
            st.sent[s.identifier] = s
            outputs.append(Output(Topic.IDENTITY_SIGHTINGS, s.identifier, s))
            if held is None:
                outputs += _claim(s)
        elif day_of(s.seen_at) > _latest_day(st, s.identifier):
            st.latest[s.identifier] = s  # a later day: the window's range grows
            outputs.append(Output(Topic.IDENTITY_SIGHTINGS, s.identifier, s))
    return outcome_of(old, st, outputs)


def _latest_day(st: AccountState, identifier: str) -> datetime:
    """The latest day the identifier's partition was told of for this account."""
    told = [st.sent[identifier], *([st.latest[identifier]] if identifier in st.latest else [])]
    return max(day_of(s.seen_at) for s in told)


def _claim(s: IdentifierSighting) -> list[Output]:
    """An account's sighting of the click its registration named: the click's page views are
    the account's too (clickpath.domain.identity.page_views)."""
    if s.kind != "click_id" or s.account is None:
        return []
    return [claim_of(s.identifier.split("|", 2)[2], s.account, s.brand_id)]


ACCOUNT_CAP = "account_cap"


def within_account_cap(
    state: AccountState | None, sightings: Sequence[IdentifierSighting], policy: IdentityPolicy
) -> tuple[list[IdentifierSighting], list[tuple[str, str]]]:
    """The sightings an account's event may send: a value it holds already, or a new one while
    it holds fewer than `policy.max_per_account` of that kind; and the (kind, reason) of each
    left out, for the metrics."""
    held: dict[str, int] = {}
    known: set[str] = set()
    if state is not None:
        known = set(state.sent)
        for s in state.sent.values():
            held[s.kind] = held.get(s.kind, 0) + 1
    kept: list[IdentifierSighting] = []
    capped: list[tuple[str, str]] = []
    for s in sightings:
        if s.identifier in known or s.account is None:
            kept.append(s)
        elif held.get(s.kind, 0) < policy.max_per_account:
            held[s.kind] = held.get(s.kind, 0) + 1
            known.add(s.identifier)
            kept.append(s)
        else:
            capped.append((s.kind, ACCOUNT_CAP))
    return kept, capped


def decide_inbox(
    state: AccountState | None, record: InboxRecord, policy: IdentityPolicy, now: datetime
) -> tuple[AccountState, list[Output], Outcome]:
    """One record of this account's inbox: evidence, a click candidate, a neighbour's label or
    an unmerge."""
    old = state or fresh_state(record.account, brand_of(record.account), policy)
    st = copy_for_update(old)
    outputs: list[Output]
    if isinstance(record, IdentityEvidence):
        outputs = _evidence(st, record, policy, now)
    elif isinstance(record, ClickCandidate):
        outputs = touchpoints(st, policy) if add_candidate(st, record) else []
    elif isinstance(record, PersonLabel):
        outputs = on_label(st, record, now)
    else:
        outputs = _unmerge(st, record, policy, now)
    return outcome_of(old, st, outputs)


def _evidence(
    st: AccountState, ev: IdentityEvidence, policy: IdentityPolicy, now: datetime
) -> list[Output]:
    touched = record_evidence(st, ev)
    if ev.state == "withdrawn":
        drop_withdrawn(st)
    if not touched:
        return []
    changes = refresh_pairs(st, touched, policy, now)
    return changes.outputs + after_pairs(st, changes, REMOVED, now)


def _unmerge(st: AccountState, req: UnmergeRequest, policy: IdentityPolicy, now: datetime) -> list[Output]:
    """Block every pair merged now, tell each other account (its side blocks the pair too),
    then split as any removed link does. Blocked is final: new evidence never re-merges it."""
    merged = st.merged()
    outputs: list[Output] = []
    for other in merged:
        block = block_of(st, other, f"unmerge|{req.request_id}", req.reason, req.requested_at)
        st.blocked[other] = block
        outputs.append(Output(Topic.IDENTITY_INBOX, other, block))
    changes = refresh_pairs(st, merged, policy, now)
    return outputs + changes.outputs + after_pairs(st, changes, UNMERGED, now)


def replay_account(
    state: AccountState, record: AccountInput, policy: IdentityPolicy, now: datetime
) -> list[Output]:
    """What to send again for a record `state` already applied (read again after a crash, its
    outputs maybe lost): the event's sightings still held, and what the account has emitted as
    it stands now. Every one is idempotent where it goes: a sighting no earlier than the one
    held, a link, signal or person change by version, a touchpoint per click, a block of a
    blocked pair, a label equal to the neighbour's."""
    outputs: list[Output] = []
    if isinstance(record, CanonicalEvent):
        for ident, s in sorted(state.sent.items()):
            if s.event_id == record.event_id:
                outputs += [Output(Topic.IDENTITY_SIGHTINGS, ident, s), *_claim(s)]
        outputs += [Output(Topic.IDENTITY_SIGHTINGS, ident, s)
                    for ident, s in sorted(state.latest.items()) if s.event_id == record.event_id]
    return outputs + resend(state)


def resend(state: AccountState) -> list[Output]:
    """Everything the account's current view consists of, as it was last emitted."""
    outputs = [Output(Topic.IDENTITY_LINKS, state.account, link)
               for _, link in sorted(state.links.items())]
    outputs += [Output(Topic.IDENTITY_SIGNALS, state.brand_id, sig)
                for _, sig in sorted(state.signals.items())]
    if state.last_change is not None:
        outputs.append(Output(Topic.IDENTITY_PERSONS, state.account, state.last_change))
    outputs += [Output(Topic.IDENTITY_TOUCHPOINTS, state.account, t)
                for _, t in sorted(state.touchpoints.items())]
    # Both ends hold the block as they would send it: a copy back to its sender is a no-op.
    outputs += [Output(Topic.IDENTITY_INBOX, other, block)
                for other, block in sorted(state.blocked.items())]
    return outputs + labels_to(state, state.merged()) + resend_page_views(state)


__all__ = [
    "AccountInput", "InboxRecord", "decide_inbox", "observe", "replay_account", "resend",
    "within_account_cap",
]
