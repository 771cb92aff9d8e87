"""Records of the identity graph (schemas/identity/): who is one person across devices and brands.

The graph is two stages on the stage seam (docs/identity.md). The account stage, keyed by the
brand account (`brand_id:player_id`, a click's `click_id` before any account names it), tells each
identifier what it saw (`IdentifierSighting`). The identifier stage, keyed by the identifier
(`operator|kind|value`), tells each account which other accounts share it, or that it stopped
linking (`IdentityEvidence`), and which clicks were seen on it (`ClickCandidate`). Accounts then
score their pairs and agree on a person by passing `PersonLabel`s along merged links. What
analysts and the journey read is outward: `IdentityLink`, `PersonChange` (merges and unmerges,
the append-only log), `MultiAccountSignal` and `TouchpointLink`.

Every set these records describe only grows (an identifier once shared stays shared, a blocked
link stays blocked), so the graph a stage ends with does not depend on the order records came in.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from clickpath.contracts.models.base import Record, Timestamp

IdentifierKind = Literal[
    "click_id", "email_hash", "phone_hash", "customer_id", "device_id", "ip_prefix", "ua_family",
]
EvidenceState = Literal["shared", "withdrawn", "blocked"]
LinkStatus = Literal["merged", "possible", "removed"]
ChangeKind = Literal["new", "merge", "unmerge"]
SignalStatus = Literal["open", "withdrawn"]
TouchKind = Literal["named_click", "device"]


class IdentifierSighting(Record):
    """One identifier seen on one brand account, or on a click no account has named yet
    (`account` None): sent to the identifier's partition of identity.sightings."""

    avro_name: ClassVar[str] = "io.clickpath.identity.IdentifierSighting"
    identifier: str  # operator|kind|value: the key
    operator_id: str
    kind: IdentifierKind
    brand_id: str
    account: str | None = None
    seen_at: Timestamp  # event time
    event_id: str
    click_id: str | None = None  # a click's sighting carries the click, for touchpoints
    affiliate_id: str | None = None
    campaign_id: str | None = None
    forget: bool = False  # v2: the account was erased; its partition drops it (values.py)


class IdentityEvidence(Record):
    """What an identifier's partition tells `account` about `other`: they share it (`shared`),
    it stopped linking (`withdrawn`: refused, or seen on too many accounts), or an unmerge
    blocked their link (`blocked`, sent between the two accounts). Withdrawn and blocked are
    final."""

    avro_name: ClassVar[str] = "io.clickpath.identity.IdentityEvidence"
    account: str  # the key
    other: str
    identifier: str
    kind: IdentifierKind
    state: EvidenceState
    weight: float  # log2(m/u) of this value (docs/identity.md), 0 for a withdrawal
    at: Timestamp  # event time of the later of the two sightings
    reason: str = ""


class ClickCandidate(Record):
    """A click seen on an identifier the account has (its named click, or a device it used):
    the account decides whether it is on its path."""

    avro_name: ClassVar[str] = "io.clickpath.identity.ClickCandidate"
    account: str  # the key
    click_id: str
    brand_id: str
    affiliate_id: str
    campaign_id: str
    clicked_at: Timestamp
    via: TouchKind
    identifier: str


class ClickClaim(Record):
    """A brand account whose registration named the click `account` (a click's key is its
    click_id): the visitor's page views on that click are the account's, so the click's side
    sends them on as the account's sightings (docs/identity.md, Page views)."""

    avro_name: ClassVar[str] = "io.clickpath.identity.ClickClaim"
    account: str  # the key: the click's id
    claimant: str  # brand_id:player_id
    brand_id: str


class PersonLabel(Record):
    """One account telling a merged neighbour which person it belongs to: the earliest account
    of the component (`birth`, then `person_account`) at the highest `generation` (each removed
    link starts a new one, so a split never keeps a stale person)."""

    avro_name: ClassVar[str] = "io.clickpath.identity.PersonLabel"
    account: str  # the key: who is told
    sender: str
    generation: int
    person_id: str
    person_account: str
    birth: Timestamp


class UnmergeRequest(Record):
    """An operator's instruction: split `account` from the accounts it was merged with (admin API,
    `clickpath identity unmerge`); its links to them are blocked from then on."""

    avro_name: ClassVar[str] = "io.clickpath.identity.UnmergeRequest"
    account: str  # the key
    request_id: str
    requested_by: str
    reason: str
    requested_at: Timestamp


class IdentityLink(Record):
    """A scored pair of accounts as one of them sees it now: `merged` (one person), `possible`
    (kept as evidence, never a merge), `removed`. The highest `version` per pair wins."""

    avro_name: ClassVar[str] = "io.clickpath.identity.IdentityLink"
    account: str
    other: str
    operator_id: str
    status: LinkStatus
    score: float
    reasons: dict[str, float]  # field: weight, the prior under "prior"
    version: int
    decided_at: Timestamp


class PersonChange(Record):
    """An account's person: its own when first seen (`new`, version 0), then each change:
    joined another's (`merge`) or left one (`unmerge`). The append-only merge log; the highest
    `version` per account is its person now, so every account has one."""

    avro_name: ClassVar[str] = "io.clickpath.identity.PersonChange"
    change_id: str
    account: str
    operator_id: str
    kind: ChangeKind
    person_id: str
    previous_person_id: str
    reason: str
    version: int
    changed_at: Timestamp


class MultiAccountSignal(Record):
    """Two accounts of one brand that look like one person: never merged, flagged, with the
    score and its reasons. Sent by the pair's first account only; `withdrawn` once the evidence
    it rested on stopped linking."""

    avro_name: ClassVar[str] = "io.clickpath.identity.MultiAccountSignal"
    signal_id: str
    kind: str  # "multi_account"
    brand_id: str
    accounts: list[str]
    score: float
    reasons: dict[str, float]
    status: SignalStatus
    version: int
    raised_at: Timestamp


class TouchpointLink(Record):
    """A click on a brand account's path: the click its registration named, or one of the same
    brand on a device the account used, within the contract attribution's window."""

    avro_name: ClassVar[str] = "io.clickpath.identity.TouchpointLink"
    account: str
    brand_id: str
    click_id: str
    affiliate_id: str
    campaign_id: str
    clicked_at: Timestamp
    link: TouchKind
    # The account's registration time, which the attribution paths measure ages and the window
    # to (infra/touchpoints/paths.py): sent again when an earlier registration moves it.
    registered_at: Timestamp | None = None
