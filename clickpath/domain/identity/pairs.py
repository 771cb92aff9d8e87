"""A pair of accounts, scored from the evidence one of them holds: its link and its signal.

Both accounts of a pair receive the same evidence from the identifiers they share, and the
score, the status and the signal are functions of the active evidence alone (never of the order
it came in, nor of which side computes it), so the two sides agree once the evidence has
reached both. Float sums are taken in a fixed order for the same reason.

Within a brand nothing merges: what would merge two accounts of one brand raises a
multi-account signal instead (docs/identity.md). Nothing here sends a label or reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from clickpath.contracts.models.identity import (
    IdentityEvidence,
    IdentityLink,
    LinkStatus,
    MultiAccountSignal,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.account_state import (
    AccountState,
    Evidence,
    brand_of,
    signal_id_of,
)
from clickpath.domain.identity.policy import DETERMINISTIC, IdentityPolicy
from clickpath.domain.outputs import Output

SIGNAL_KIND: Final = "multi_account"
# What alone makes a same-brand pair a signal: a deterministic identifier, or a device id.
SIGNALLING: Final = DETERMINISTIC | {"device_id"}


@dataclass(frozen=True)
class Pair:
    """A pair as its evidence decides it now. `status` None: never linked, nothing active."""

    status: LinkStatus | None
    score: float
    reasons: dict[str, float]
    signal: bool  # a same-brand pair that looks like one person


def active_evidence(state: AccountState, other: str) -> dict[str, Evidence]:
    """The identifiers that link `other` to this account now: shared, not withdrawn, the pair
    not blocked."""
    if other in state.blocked:
        return {}
    withdrawn = set(state.withdrawn)
    return {
        ident: ev for ident, ev in state.evidence.get(other, {}).items()
        if ev.state == "shared" and ident not in withdrawn
    }


def kind_weights(active: Iterable[Evidence]) -> dict[str, float]:
    """One weight per kind: two identifiers of one kind (two devices) are one agreement, worth
    the rarer value's weight; a deterministic kind weighs 0 (it decides by rule)."""
    best: dict[str, float] = {}
    for ev in active:
        weight = 0.0 if ev.kind in DETERMINISTIC else ev.weight
        best[ev.kind] = max(best.get(ev.kind, weight), weight)
    return best


def score_pair(state: AccountState, other: str, policy: IdentityPolicy) -> Pair:
    active = active_evidence(state, other)
    weights = kind_weights(active.values())
    prior = policy.prior_weight()
    score = prior + sum(weights[k] for k in sorted(weights) if k not in DETERMINISTIC)
    reasons = {"prior": prior, **{k: weights[k] for k in sorted(weights)}}
    same_brand = brand_of(other) == state.brand_id
    status: LinkStatus | None
    if not active:
        status = "removed" if other in state.links else None
    elif same_brand:
        status = "possible"
    elif DETERMINISTIC & weights.keys() or score >= policy.threshold:
        status = "merged"
    else:
        status = "possible"
    signal = same_brand and bool(SIGNALLING & weights.keys())
    return Pair(status=status, score=score, reasons=reasons, signal=signal)


@dataclass
class PairChanges:
    """What refreshing some pairs did: outputs, and the merged links gained and lost."""

    outputs: list[Output]
    gained: list[str]
    lost: list[str]


def refresh_pairs(
    state: AccountState, others: Iterable[str], policy: IdentityPolicy, now: datetime
) -> PairChanges:
    """Re-score each of `others` and emit what changed: the link (status, score or reasons;
    version + 1) and, when this account's key sorts first, the pair's signal."""
    changes = PairChanges([], [], [])
    for other in sorted(set(others)):
        if other == state.account:
            continue
        pair = score_pair(state, other, policy)
        before = state.links.get(other)
        was_merged = before is not None and before.status == "merged"
        if pair.status is not None and (
            before is None
            or (before.status, before.score, before.reasons) != (pair.status, pair.score, pair.reasons)
        ):
            link = IdentityLink(
                account=state.account, other=other, operator_id=state.operator_id,
                status=pair.status, score=pair.score, reasons=pair.reasons,
                version=(before.version if before else 0) + 1, decided_at=now,
            )
            state.links[other] = link
            changes.outputs.append(Output(Topic.IDENTITY_LINKS, state.account, link))
        is_merged = other in state.links and state.links[other].status == "merged"
        if is_merged and not was_merged:
            changes.gained.append(other)
        elif was_merged and not is_merged:
            changes.lost.append(other)
        changes.outputs += _signal(state, other, pair, now)
    return changes


def _signal(state: AccountState, other: str, pair: Pair, now: datetime) -> list[Output]:
    """The pair's multi-account signal, from its first account only (each is sent once):
    open while the evidence that raised it is active, withdrawn once it is gone."""
    if state.account > other:
        return []
    before = state.signals.get(other)
    if pair.signal:
        if before is not None and (before.status, before.score, before.reasons) == (
            "open", pair.score, pair.reasons
        ):
            return []
        status = "open"
    elif before is not None and before.status == "open":
        status = "withdrawn"
    else:
        return []
    signal = MultiAccountSignal(
        signal_id=signal_id_of(SIGNAL_KIND, state.account, other), kind=SIGNAL_KIND,
        brand_id=state.brand_id, accounts=sorted((state.account, other)),
        score=pair.score, reasons=pair.reasons, status=status,
        version=(before.version if before else 0) + 1, raised_at=now,
    )
    state.signals[other] = signal
    return [Output(Topic.IDENTITY_SIGNALS, state.brand_id, signal)]


def record_evidence(state: AccountState, ev: IdentityEvidence) -> list[str]:
    """Keep one piece of evidence; the others whose pair it may change (none when it says
    nothing new). Withdrawn is final for the identifier, blocked for the pair."""
    me, other = state.account, ev.other
    if ev.state == "blocked":
        if not other or other == me or other in state.blocked:
            return []
        state.blocked[other] = block_of(state, other, ev.identifier, ev.reason, ev.at)
        return [other]
    if ev.state == "withdrawn":
        touched = {o for o, evs in state.evidence.items() if ev.identifier in evs}
        new = ev.identifier not in state.withdrawn
        if new:
            state.withdrawn = sorted({*state.withdrawn, ev.identifier})
        if other and other != me:
            held = state.evidence.setdefault(other, {}).get(ev.identifier)
            if held is None or held.state != "withdrawn":
                state.evidence[other][ev.identifier] = Evidence(kind=ev.kind, state="withdrawn",
                                                                weight=0.0)
                new = True
            touched.add(other)
        return sorted(touched) if new else []
    if not other or other == me or ev.identifier in state.withdrawn or other in state.blocked:
        return []
    fresh = Evidence(kind=ev.kind, state="shared", weight=ev.weight)
    if state.evidence.get(other, {}).get(ev.identifier) == fresh:
        return []
    state.evidence.setdefault(other, {})[ev.identifier] = fresh
    return [other]


def block_of(
    state: AccountState, other: str, identifier: str, reason: str, at: datetime
) -> IdentityEvidence:
    """The block of the pair (me, other) as this account tells `other` of it. The record needs
    a kind: the pair's strongest (deterministic first), which says what the unmerge undid."""
    active = active_evidence(state, other)
    kinds = sorted(active.values(), key=lambda e: (e.kind not in DETERMINISTIC, -e.weight, e.kind))
    return IdentityEvidence(
        account=other, other=state.account, identifier=identifier,
        kind=kinds[0].kind if kinds else "customer_id", state="blocked", weight=0.0, at=at,
        reason=reason,
    )
