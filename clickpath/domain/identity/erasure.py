"""An account's erasure in the identity graph (docs/privacy.md#erasure): what the account
stage does with its `erasure_request`.

The account is split from every account it has evidence of, a link to or a signal with, and
those pairs are blocked for good (the other side blocks them too, as after an unmerge); each
identifier's partition is told to forget the account; what the state held of its identifiers,
clicks and page views is emptied. What stays is a tombstone (`AccountState.erasure`): later and
replayed events of the account send nothing, so an old event cannot bring the person back. The
`Erasure` record tells the ClickHouse sink to destroy the account's key, anonymise its rows and
write the certificate; a revocation stops the postbacks and webhooks to its affiliate.

Money is not here: the player stage keeps the account's value, and the ledger its entries.
Pure: the decision's `now` is the batch's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from clickpath.contracts.models import CanonicalEvent, Erasure, PostbackRevocation
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.account_state import (
    AccountState,
    account_of,
    copy_for_update,
    fresh_state,
)
from clickpath.domain.identity.labels import ERASED, after_pairs
from clickpath.domain.identity.pairs import block_of, refresh_pairs
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.identity.values import erased_token
from clickpath.domain.outputs import Outcome, Output, payload_of
from clickpath.domain.pseudonym import player_token

ERASURE_EVENT: Final = "erasure_request"
REVOKED_BECAUSE: Final = "erased"


def erase(
    state: AccountState | None, event: CanonicalEvent, policy: IdentityPolicy, now: datetime
) -> tuple[AccountState, list[Output], Outcome]:
    """Apply the account's erasure request; a second one (or a replay) changes nothing."""
    old = state or fresh_state(account_of(event), event.brand_id, policy)
    if old.erasure is not None:
        return old, [], Outcome.DUPLICATE
    st = copy_for_update(old)
    others = sorted((set(st.evidence) | set(st.links) | set(st.signals)) - {st.account})
    outputs: list[Output] = []
    for other in others:
        if other not in st.blocked:
            block = block_of(st, other, f"erasure|{event.event_id}", REVOKED_BECAUSE,
                             event.occurred_at)
            st.blocked[other] = block
            outputs.append(Output(Topic.IDENTITY_INBOX, other, block))
    changes = refresh_pairs(st, others, policy, now)
    outputs += changes.outputs + after_pairs(st, changes, ERASED, now)
    blinded = erased_token(policy.person_key, st.account)
    outputs += [Output(Topic.IDENTITY_SIGHTINGS, ident, s.model_copy(update={
        "forget": True, "account": blinded, "event_id": event.event_id, "click_id": None,
        "affiliate_id": None, "campaign_id": None})) for ident, s in sorted(st.sent.items())]
    clicks = sorted(set(st.touchpoints) | {ident.split("|", 2)[2] for ident, s in st.sent.items()
                                           if s.kind == "click_id"})
    st.erasure = Erasure(
        account=st.account, brand_id=st.brand_id, player_id=event.player_id or "",
        request_id=event.event_id, requested_by=_requested_by(event),
        requested_at=event.occurred_at, erased_at=now, person_id=event.person_id,
        identifiers_removed=len(st.sent), links_removed=len(others), click_ids=clicks,
        affiliate_id=event.affiliate_id,
    )
    _empty(st)
    return st, outputs + erasure_outputs(st, policy), Outcome.ACCEPTED


def erasure_outputs(state: AccountState, policy: IdentityPolicy) -> list[Output]:
    """What an erased account sends (again, after a crash): its `Erasure`, the revocation of
    its affiliate's deliveries and the blocks of its pairs; each is idempotent where it goes."""
    done = state.erasure
    if done is None:
        return []
    outputs = [Output(Topic.PRIVACY_ERASURES, state.account, done)]
    if done.affiliate_id:
        token = player_token(policy.person_key, done.affiliate_id, done.person_id)
        outputs.append(Output(Topic.POSTBACKS, done.affiliate_id, PostbackRevocation(
            affiliate_id=done.affiliate_id, player_token=token, reason=REVOKED_BECAUSE,
            revoked_at=done.erased_at)))
    return outputs + [Output(Topic.IDENTITY_INBOX, other, block)
                      for other, block in sorted(state.blocked.items())]


def _requested_by(event: CanonicalEvent) -> str | None:
    value = payload_of(event).get("requested_by")
    return value[:200] if isinstance(value, str) and value else None


def _empty(st: AccountState) -> None:
    """What the account held of its identifiers, clicks and page views: gone."""
    st.sent, st.latest, st.evidence, st.withdrawn = {}, {}, {}, []
    st.candidates, st.touchpoints, st.page_views, st.claimants = [], {}, {}, []
