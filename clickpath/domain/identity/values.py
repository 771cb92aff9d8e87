"""The identifier stage's decisions: one identifier (`operator|kind|value`), the accounts and
clicks it was seen on, and what it tells each account about the others.

Everything here only grows, and `shared` is final: an identifier seen on more than
`max_accounts` accounts withdraws every pair it told of and stops growing (it keeps the
accounts it told, to withdraw again after a crash), so a device id on 500 accounts links nobody
and costs little. Since the account side treats a withdrawal as
final too, the evidence the accounts end with does not depend on the order or the duplication
of sightings.

A pair is told once the two accounts were seen with the identifier within `policy.window` of
each other: each account's sightings of it span a range (its earliest, and the day of its
latest), and the pair is within the window when the gap between the two ranges is. Ranges only
grow, so a pair once within stays within, and the order of the sightings does not matter.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from clickpath.contracts.models.identity import (
    ClickCandidate,
    IdentifierKind,
    IdentifierSighting,
    IdentityEvidence,
    TouchKind,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.outputs import Outcome, Output

# The kinds whose clicks are candidates for an account's path, and how they reach it.
CLICK_KINDS: dict[str, TouchKind] = {"click_id": "named_click", "device_id": "device"}


class SeenClick(BaseModel):
    brand_id: str
    affiliate_id: str
    campaign_id: str
    clicked_at: datetime


class IdentifierState(BaseModel):
    identifier: str
    kind: IdentifierKind
    accounts: dict[str, datetime] = {}  # account -> its earliest sighting
    latest: dict[str, datetime] = {}  # account -> the day (00:00 UTC) of its latest sighting
    clicks: dict[str, SeenClick] = {}  # click_id -> the click, at most policy.max_clicks
    shared: bool = False


def day_of(at: datetime) -> datetime:
    """The day a sighting's latest end counts to: so the account side need tell the latest
    only once a day, and any order of the same sightings ends with the same range."""
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


def within(st: IdentifierState, a: str, b: str, window: timedelta) -> bool:
    """Whether `a` and `b` were seen with the identifier within `window` of each other (a
    window of 0: always)."""
    if not window:
        return True
    gap = max(st.accounts[a], st.accounts[b]) - min(_last(st, a), _last(st, b))
    return gap <= window


def _last(st: IdentifierState, account: str) -> datetime:
    return max(st.latest.get(account, st.accounts[account]), day_of(st.accounts[account]))


def _value(identifier: str) -> str:
    return identifier.split("|", 2)[2]


def _evidence(st: IdentifierState, account: str, other: str, at: datetime,
              policy: IdentityPolicy, withdrawn: bool = False) -> Output:
    return Output(Topic.IDENTITY_INBOX, account, IdentityEvidence(
        account=account, other=other, identifier=st.identifier, kind=st.kind,
        state="withdrawn" if withdrawn else "shared",
        weight=0.0 if withdrawn else policy.weight_of(st.kind, _value(st.identifier)),
        at=at,
        reason=f"shared by more than {policy.max_accounts} accounts" if withdrawn else "",
    ))


def _pair(st: IdentifierState, a: str, b: str, policy: IdentityPolicy,
          withdrawn: bool = False) -> list[Output]:
    at = max(st.accounts[a], st.accounts[b])
    return [_evidence(st, a, b, at, policy, withdrawn), _evidence(st, b, a, at, policy, withdrawn)]


def _candidate(st: IdentifierState, account: str, click_id: str, click: SeenClick) -> Output:
    return Output(Topic.IDENTITY_INBOX, account, ClickCandidate(
        account=account, click_id=click_id, brand_id=click.brand_id,
        affiliate_id=click.affiliate_id, campaign_id=click.campaign_id,
        clicked_at=click.clicked_at, via=CLICK_KINDS[st.kind], identifier=st.identifier,
    ))


def decide_identifier(
    state: IdentifierState | None, sighting: IdentifierSighting, policy: IdentityPolicy
) -> tuple[IdentifierState, list[Output], Outcome]:
    """Apply one sighting: a new account is told of the others (and they of it) and of the
    clicks kept; a new click reaches every account; the account past the cap makes it shared."""
    st = state or IdentifierState(identifier=sighting.identifier, kind=sighting.kind)
    if sighting.forget:
        return _forget(st, sighting, policy)
    if st.shared:
        return st, [], Outcome.DUPLICATE
    if sighting.account is None:
        return _click(st, sighting, policy)
    account, seen = sighting.account, sighting.seen_at
    held = st.accounts.get(account)
    first = seen if held is None or seen < held else held
    last = max(day_of(seen), st.latest.get(account, day_of(first)))
    if held is not None and first == held and last == _last(st, account):
        return st, [], Outcome.DUPLICATE
    new = st.model_copy(update={"accounts": {**st.accounts, account: first},
                                "latest": {**st.latest, account: last}})
    if held is None and len(new.accounts) > policy.max_accounts:
        told = sorted(st.accounts)
        outputs = [o for i, a in enumerate(told) for b in told[i + 1:]
                   for o in _pair(st, a, b, policy, withdrawn=True)]
        return st.model_copy(update={"shared": True, "clicks": {}}), outputs, Outcome.ACCEPTED
    window = policy.window
    outputs = [o for other in sorted(st.accounts) if other != account
               and within(new, account, other, window)
               and (held is None or not within(st, account, other, window))
               for o in _pair(new, account, other, policy)]
    if held is None and st.kind in CLICK_KINDS:
        outputs += [_candidate(new, account, cid, c) for cid, c in sorted(new.clicks.items())]
    return new, outputs, Outcome.ACCEPTED


def _forget(st: IdentifierState, sighting: IdentifierSighting, policy: IdentityPolicy
            ) -> tuple[IdentifierState, list[Output], Outcome]:
    """An erased account leaves the identifier (docs/privacy.md#erasure). The request names it
    only by its blinded form (`erased_token`), so no record written after the erasure pairs the
    identifier with the account. It tells nobody: the account's side has blocked its pairs, and
    it sends no sighting again (its tombstone)."""
    gone = {a for a in st.accounts if erased_token(policy.person_key, a) == sighting.account}
    if not gone:
        return st, [], Outcome.DUPLICATE
    accounts = {a: at for a, at in st.accounts.items() if a not in gone}
    latest = {a: at for a, at in st.latest.items() if a not in gone}
    return st.model_copy(update={"accounts": accounts, "latest": latest}), [], Outcome.ACCEPTED


def erased_token(key: bytes, account: str) -> str:
    """How a forget request names the erased account: keyed, so it cannot be read back."""
    return "erased:" + hmac.new(key, f"erased|{account}".encode(), hashlib.sha256).hexdigest()[:32]


def _click(st: IdentifierState, sighting: IdentifierSighting, policy: IdentityPolicy
           ) -> tuple[IdentifierState, list[Output], Outcome]:
    click_id = sighting.click_id
    if click_id is None or click_id in st.clicks or st.kind not in CLICK_KINDS:
        return st, [], Outcome.DUPLICATE
    click = SeenClick(brand_id=sighting.brand_id, affiliate_id=sighting.affiliate_id or "",
                      campaign_id=sighting.campaign_id or "", clicked_at=sighting.seen_at)
    clicks = {**st.clicks, click_id: click}
    if len(clicks) > policy.max_clicks:  # keep the newest: the oldest fall out of every lookback first
        oldest = min(clicks, key=lambda c: (clicks[c].clicked_at, c))
        del clicks[oldest]
        if oldest == click_id:
            return st, [], Outcome.DUPLICATE
    new = st.model_copy(update={"clicks": clicks})
    return new, [_candidate(new, a, click_id, click) for a in sorted(new.accounts)], Outcome.ACCEPTED


def replay_identifier(
    state: IdentifierState, sighting: IdentifierSighting, policy: IdentityPolicy
) -> list[Output]:
    """What to send again for a sighting `state` already applied (its outputs maybe lost in a
    crash): the evidence of every pair with its account and the clicks it was told of, or the
    candidates of its click; once shared, every withdrawal. Each is idempotent where it goes."""
    if sighting.forget:
        return []
    if state.shared:
        told = sorted(state.accounts)
        return [o for i, a in enumerate(told) for b in told[i + 1:]
                for o in _pair(state, a, b, policy, withdrawn=True)]
    if sighting.account is None:
        click = state.clicks.get(sighting.click_id or "")
        return [] if click is None else [
            _candidate(state, a, sighting.click_id or "", click) for a in sorted(state.accounts)
        ]
    account = sighting.account
    if account not in state.accounts:
        return []
    outputs = [o for other in sorted(state.accounts) if other != account
               and within(state, account, other, policy.window)
               for o in _pair(state, account, other, policy)]
    if state.kind in CLICK_KINDS:
        outputs += [_candidate(state, account, cid, c) for cid, c in sorted(state.clicks.items())]
    return outputs
