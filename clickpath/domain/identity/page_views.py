"""Page views as evidence: the visitor's device, IP prefix and user agent on the landing page
of a click, made the sightings of the account whose registration named the click.

A page view comes keyed by its click (`ingress.page-views`), on the partition of the click's
side of the account stage (a click's key is its click_id); the account that named the click is
elsewhere and may come before or after it. So each side tells the other what it has: the
account sends the click a `ClickClaim` with its registration; the click keeps its page views'
sightings (the earliest per identifier) and its claimants, and sends every sighting it holds as
each claimant's, whichever of the two came first. The identifier stage keeps the earliest
sighting per account, so the same records in any order and any number of copies give it the
same sightings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from clickpath.contracts.models import PageView
from clickpath.contracts.models.identity import ClickClaim, IdentifierSighting
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.account_state import (
    AccountState,
    brand_of,
    copy_for_update,
    fresh_state,
    outcome_of,
)
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.outputs import Outcome, Output

MAX_PAGE_VIEW_IDENTIFIERS: Final = 32
"""Identifiers one click keeps from its page views: a bot replaying a landing page from many
addresses must not grow the click's state without end (beyond it, new values are left out)."""


def observe_page_view(
    state: AccountState | None, view: PageView, sightings: Sequence[IdentifierSighting],
    policy: IdentityPolicy,
) -> tuple[AccountState, list[Output], Outcome]:
    """A page view of the click this state is of: its sightings kept, and sent as each
    claimant's that the click did not hold that early."""
    old = state or fresh_state(view.click_id, view.brand_id, policy)
    st = copy_for_update(old)
    outputs: list[Output] = []
    for s in sorted(sightings, key=lambda s: (s.identifier, s.seen_at)):
        held = st.page_views.get(s.identifier)
        if held is None and len(st.page_views) >= MAX_PAGE_VIEW_IDENTIFIERS:
            continue
        if held is None or s.seen_at < held.seen_at:
            st.page_views[s.identifier] = s
            outputs += [_as_claimants(s, claimant) for claimant in st.claimants]
    return outcome_of(old, st, outputs)


def on_claim(
    state: AccountState | None, claim: ClickClaim, policy: IdentityPolicy
) -> tuple[AccountState, list[Output], Outcome]:
    """An account named this click: the click's page views are its sightings from now on."""
    old = state or fresh_state(claim.account, claim.brand_id, policy)
    if claim.claimant in old.claimants:
        return old, [], Outcome.DUPLICATE
    st = copy_for_update(old)
    st.claimants = sorted({*st.claimants, claim.claimant})
    return st, resend_page_views(st, only=claim.claimant), Outcome.ACCEPTED


def claim_of(click_id: str, account: str, brand_id: str) -> Output:
    """What an account whose registration names `click_id` tells the click's side."""
    return Output(Topic.IDENTITY_INBOX, click_id,
                  ClickClaim(account=click_id, claimant=account, brand_id=brand_id))


def resend_page_views(
    state: AccountState, only: str | None = None, event_id: str | None = None
) -> list[Output]:
    """The page views' sightings as each claimant's (`only` one; of one page view `event_id`)."""
    return [
        _as_claimants(s, claimant)
        for claimant in state.claimants if only is None or claimant == only
        for _, s in sorted(state.page_views.items()) if event_id is None or s.event_id == event_id
    ]


def _as_claimants(s: IdentifierSighting, claimant: str) -> Output:
    return Output(Topic.IDENTITY_SIGHTINGS, s.identifier,
                  s.model_copy(update={"account": claimant, "brand_id": brand_of(claimant)}))
