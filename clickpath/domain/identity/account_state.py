"""What the account stage stores per brand account (`brand_id:player_id`), and the ids it makes.

The runtime keeps it as JSON beside the account's partition and hands it to every decision; a
stored state is read by later versions, so a field is added with a default, never renamed or
retyped. Everything in it is either a set that only grows (evidence, withdrawals, blocks), a
minimum (birth, registration time, the earliest sighting per identifier) or the last record
emitted (links, signals, the person change), so the decisions can re-send what they sent and
tell a record that changes nothing from one that does.

Nothing here sends or decides; it only says what the state is and how ids are made.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import BaseModel

from clickpath.contracts.models import CanonicalEvent, Erasure
from clickpath.contracts.models.identity import (
    ClickCandidate,
    IdentifierKind,
    IdentifierSighting,
    IdentityEvidence,
    IdentityLink,
    MultiAccountSignal,
    PersonChange,
    TouchpointLink,
)
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.outputs import Outcome, Output

# The birth of an account none of whose events was seen yet: later than any real one, so its
# label loses to every account that has one, and the first event moves it to the real time.
UNKNOWN_BIRTH: Final = datetime(9999, 1, 1, tzinfo=UTC)


class Evidence(BaseModel):
    """What an identifier's partition last said about one identifier of one pair."""

    kind: IdentifierKind
    state: Literal["shared", "withdrawn"]
    weight: float


class Label(BaseModel):
    """Which person this account belongs to: the earliest account of its component
    (`birth`, then `person_account`) at the highest `generation` it has seen."""

    generation: int = 0
    birth: datetime
    person_account: str
    person_id: str

    def rank(self) -> tuple[datetime, str]:
        """What decides between two labels of one generation: the lower wins."""
        return (self.birth, self.person_account)


class AccountState(BaseModel):
    """One brand account's side of the identity graph."""

    account: str
    brand_id: str
    operator_id: str
    birth: datetime | None = None  # the earliest event time seen for the account
    registered_at: datetime | None = None  # the earliest registration's event time
    # identifier -> the earliest sighting sent to its partition (replay re-sends an event's)
    sent: dict[str, IdentifierSighting] = {}
    # identifier -> the sighting that told its partition the latest day it was seen (the
    # window: values.py); absent while that is the earliest's day
    latest: dict[str, IdentifierSighting] = {}
    # other account -> identifier -> what was last said about it
    evidence: dict[str, dict[str, Evidence]] = {}
    # identifiers that stopped linking (refused, shared): final, for every pair and click
    withdrawn: list[str] = []
    # other account -> the block as this account sends it (an unmerge): final for the pair
    blocked: dict[str, IdentityEvidence] = {}
    links: dict[str, IdentityLink] = {}  # other account -> the link as last emitted
    label: Label
    own_person_id: str = ""  # its person id as its own person (person_id_of, keyed)
    person_version: int = 0  # the version of the last PersonChange (0: none yet)
    last_change: PersonChange | None = None
    candidates: list[ClickCandidate] = []
    touchpoints: dict[str, TouchpointLink] = {}  # click_id -> the touchpoint as last emitted
    signals: dict[str, MultiAccountSignal] = {}  # other account -> last signal (first key only)
    # a click's side only (page_views.py): its page views' sightings, the accounts that named it
    page_views: dict[str, IdentifierSighting] = {}
    claimants: list[str] = []
    # the erasure that emptied this account (domain/identity/erasure.py): final, a tombstone
    # later and replayed events of the account cannot undo
    erasure: Erasure | None = None

    @property
    def person_id(self) -> str:
        return self.label.person_id

    def own_label(self, generation: int) -> Label:
        """This account as its own person, at `generation`."""
        return Label(
            generation=generation,
            birth=self.birth or UNKNOWN_BIRTH,
            person_account=self.account,
            person_id=self.own_person_id,
        )

    def merged(self) -> list[str]:
        """The other accounts this one is merged with now (its links as last emitted)."""
        return sorted(o for o, link in self.links.items() if link.status == "merged")


def _digest(text: str, size: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def person_id_of(operator_id: str, account: str, key: bytes = b"") -> str:
    """The person an account starts as, and that its component gets when it is the earliest:
    the same wherever it is computed with the same `key` (IdentityPolicy.person_key). Keyed, so
    that a brand's reader who sees a person id cannot test guesses of the person's first
    account at another brand against it."""
    digest = hmac.new(key, f"person|{operator_id}|{account}".encode(), hashlib.sha256)
    return "pn_" + digest.hexdigest()[:16]


def signal_id_of(kind: str, first: str, second: str) -> str:
    """One id per pair and signal kind, so every version of a signal replaces the last."""
    a, b = sorted((first, second))
    return "sg_" + _digest(f"{kind}|{a}|{b}")


def change_id_of(account: str, version: int, person_id: str) -> str:
    return "pc_" + _digest(f"{account}|{version}|{person_id}")


def brand_of(account: str) -> str:
    """The brand part of a `brand_id:player_id` key (brand ids hold no ':')."""
    return account.split(":", 1)[0]


def account_of(event: CanonicalEvent) -> str:
    """The account stage's key for an event: its brand account, or its click before any
    account names it."""
    if event.player_id:
        return f"{event.brand_id}:{event.player_id}"
    return event.click_id or event.person_id


def fresh_state(account: str, brand_id: str, policy: IdentityPolicy) -> AccountState:
    operator = policy.operator_of(brand_id)
    own = person_id_of(operator, account, policy.person_key)
    return AccountState(
        account=account,
        brand_id=brand_id,
        operator_id=operator,
        label=Label(birth=UNKNOWN_BIRTH, person_account=account, person_id=own),
        own_person_id=own,
    )


def outcome_of(
    old: AccountState, new: AccountState, outputs: list[Output]
) -> tuple[AccountState, list[Output], Outcome]:
    """A decision's result: DUPLICATE (the old state kept) when it changed nothing."""
    if new == old:
        return old, outputs, Outcome.DUPLICATE
    return new, outputs, Outcome.ACCEPTED


def copy_for_update(state: AccountState) -> AccountState:
    """A copy the decision may change in place; the caller's state stays as it was, so a
    record that changes nothing is recognised by comparing the two.

    Its containers are copied, not what they hold: the decisions only assign fields, set dict
    items and append to lists, and every value they hold (records, Evidence, Label) is replaced,
    never changed. A deep copy cost most of the stage's time (make bench-identity)."""
    return state.model_copy(update={
        "sent": dict(state.sent),
        "latest": dict(state.latest),
        "evidence": {other: dict(held) for other, held in state.evidence.items()},
        "withdrawn": list(state.withdrawn),
        "blocked": dict(state.blocked),
        "links": dict(state.links),
        "candidates": list(state.candidates),
        "touchpoints": dict(state.touchpoints),
        "signals": dict(state.signals),
        "page_views": dict(state.page_views),
        "claimants": list(state.claimants),
    })
