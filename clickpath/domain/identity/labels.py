"""Persons by label propagation along merged links: how accounts agree on one person.

A label is (generation, birth, person account, person id). Of two labels of one generation the
one with the lower (birth, account) wins; a higher generation beats any lower one, and whoever
first sees it resets to itself at that generation before comparing, so labels older than the
last removed link are forgotten. Every removed merged link bumps the generation at both of its
ends and resets them to themselves: each half re-elects its earliest account, and a split never
keeps a person that is no longer in it.

Messages (`PersonLabel` on identity.inbox, keyed by the receiver) go only along merged links,
and a label from an account this one is not merged with is ignored: it is sent again when the
two sides agree on the link (each sends its label when the pair becomes merged). A changed label
goes to every merged neighbour; a worse or older one gets this account's label back, only when
they differ, so two accounts never answer each other forever.

Each change of the person id is a `PersonChange` on identity.persons, the append-only merge log.
Pure: the caller passes the time and sends the outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from clickpath.contracts.models.identity import ChangeKind, PersonChange, PersonLabel
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.account_state import AccountState, Label, change_id_of
from clickpath.domain.identity.pairs import PairChanges
from clickpath.domain.outputs import Output

# Why a person changed, as PersonChange.reason says it.
ADOPTED: Final = "label"  # a merged neighbour told of an earlier account
REMOVED: Final = "link_removed"  # a merged link went (withdrawn evidence, a lower score, a block)
UNMERGED: Final = "unmerge_request"  # an operator split this account from its merged neighbours
ERASED: Final = "erasure_request"  # the account was erased: split from every other for good
EARLIER: Final = "earlier_birth"  # an earlier event made this account its component's earliest


def labels_to(state: AccountState, receivers: Iterable[str]) -> list[Output]:
    """This account's label, to each of `receivers`."""
    lbl = state.label
    return [
        Output(Topic.IDENTITY_INBOX, to, PersonLabel(
            account=to, sender=state.account, generation=lbl.generation,
            person_id=lbl.person_id, person_account=lbl.person_account, birth=lbl.birth,
        ))
        for to in sorted(set(receivers))
    ]


NEW_ACCOUNT = "new_account"


def on_first_event(state: AccountState, now: datetime) -> list[Output]:
    """A brand account's first event: log its own person (`new`, version 0), so the merge log
    holds every account, never merged ones too. Kept as `last_change` until a real change
    replaces it, so a replay sends it again. Not for a click's key: a click is no account."""
    if state.last_change is not None or state.person_version:
        return []
    change = PersonChange(
        change_id=change_id_of(state.account, 0, state.label.person_id),
        account=state.account, operator_id=state.operator_id, kind="new",
        person_id=state.label.person_id, previous_person_id="", reason=NEW_ACCOUNT,
        version=0, changed_at=now,
    )
    state.last_change = change
    return [Output(Topic.IDENTITY_PERSONS, state.account, change)]


def set_label(state: AccountState, new: Label, reason: str, now: datetime) -> list[Output]:
    """Take `new` as this account's label; when the person id changes, log it: `merge` when
    the account joins a person not its own, `unmerge` when it falls back to its own after a
    removal (its own again because it is now its component's earliest is a `merge` too)."""
    before = state.label
    state.label = new
    if new.person_id == before.person_id:
        return []
    kind: ChangeKind = (
        "merge" if new.person_account != state.account or reason == EARLIER else "unmerge"
    )
    state.person_version += 1
    change = PersonChange(
        change_id=change_id_of(state.account, state.person_version, new.person_id),
        account=state.account, operator_id=state.operator_id, kind=kind,
        person_id=new.person_id, previous_person_id=before.person_id, reason=reason,
        version=state.person_version, changed_at=now,
    )
    state.last_change = change
    return [Output(Topic.IDENTITY_PERSONS, state.account, change)]


def after_pairs(state: AccountState, changes: PairChanges, reason: str, now: datetime) -> list[Output]:
    """The labels a change of merged links sends. A lost link starts a new generation here,
    this account its own person again, told to the neighbours it is still merged with (the
    other end does the same); a gained link gets this account's label."""
    if changes.lost:
        outputs = set_label(state, state.own_label(state.label.generation + 1), reason, now)
        return outputs + labels_to(state, state.merged())
    return labels_to(state, changes.gained)


def on_label(state: AccountState, received: PersonLabel, now: datetime) -> list[Output]:
    """Apply a merged neighbour's label (one from an account not merged with this one is
    ignored: it comes again once both sides see the link)."""
    if received.sender not in state.merged():
        return []
    theirs = Label(
        generation=received.generation, birth=received.birth,
        person_account=received.person_account, person_id=received.person_id,
    )
    mine = state.label
    new = mine
    if theirs.generation > mine.generation:
        own = state.own_label(theirs.generation)
        new = theirs if theirs.rank() < own.rank() else own
    elif theirs.generation == mine.generation and theirs.rank() < mine.rank():
        new = theirs
    if new != mine:
        outputs = set_label(state, new, ADOPTED, now)
        # The sender holds `new` already when it is the label it sent.
        told = [o for o in state.merged() if not (o == received.sender and new == theirs)]
        return outputs + labels_to(state, told)
    if theirs != mine:
        return labels_to(state, [received.sender])  # worse or older: this account's answers it
    return []


def on_birth(state: AccountState, now: datetime) -> list[Output]:
    """An earlier event moved this account's birth: its own label is better than before, which
    may make it its component's person (or keep it so, at the earlier time)."""
    lbl = state.label
    own = state.own_label(lbl.generation)
    if lbl.person_account != state.account and own.rank() >= lbl.rank():
        return []
    if own == lbl:
        return []
    return set_label(state, own, EARLIER, now) + labels_to(state, state.merged())
