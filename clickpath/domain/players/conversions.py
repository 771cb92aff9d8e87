"""The player's conversion postbacks (registration, FTD), their suppressions and revocations.

A conversion is reported once, when both it and an attribution to an affiliate are known,
whatever came first; consent and responsible-gaming marks (domain/consent.py) are checked when
it is made, and a later change that forbids postbacks revokes what is still pending, so consent
is enforced at send time too. Which conversions were sent or suppressed is in the state (a
player has two); the FTD's deposit also records it in its `P|` row (deposits.py), so no
deposit postback reports that deposit again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from clickpath.contracts.models import PostbackRevocation
from clickpath.contracts.topics import Topic
from clickpath.domain.consent import postback_block
from clickpath.domain.ledger import Ledger
from clickpath.domain.money import DepositRef
from clickpath.domain.outputs import Output
from clickpath.domain.players.deposits import mark, noted_reversal
from clickpath.domain.players.outbox import postback, suppressed
from clickpath.domain.players.state import PlayerPolicy, PlayerState
from clickpath.domain.pseudonym import player_token


def due_postbacks(
    state: PlayerState, ledger: Ledger, policy: PlayerPolicy, now: datetime
) -> list[Output]:
    """The registration and FTD postbacks now due, each once (sent or suppressed), and the FTD's
    reversal when its deposit was charged back before (deposits.py). Reads and writes the FTD
    deposit's report row `P|`."""
    tag = state.tag
    if tag is None or tag.status != "attributed" or not tag.click_id:
        return []
    due: list[tuple[Literal["registration", "ftd"], datetime, DepositRef | None]] = []
    done = {*state.postbacks_sent, *state.postbacks_suppressed}
    if state.registered_at is not None and "registration" not in done:
        due.append(("registration", state.registered_at, None))
    if state.first_deposit is not None and "ftd" not in done:
        due.append(("ftd", state.first_deposit.occurred_at, state.first_deposit))
    outputs = []
    for event, at, dep in due:
        reason = postback_block(state.consents, state.rg_active, at)
        if dep is not None:
            mark(ledger, dep.transaction_id, "ftd", "sent" if reason is None else "suppressed")
        if reason is None:
            state.postbacks_sent.append(event)
            outputs.append(postback(state, policy, tag, event, at, dep))
            if dep is not None:  # an FTD already charged back is reversed with it
                outputs += noted_reversal(state, ledger, policy, tag, dep, now)
        else:
            state.postbacks_suppressed.append(event)
            outputs.append(suppressed(state, tag, event, reason, now))
    return outputs


def resend_conversions(state: PlayerState, policy: PlayerPolicy) -> list[Output]:
    """The registration and FTD postbacks sent, again (same ids), for a replay. Reads no row."""
    tag = state.tag
    if tag is None or tag.status != "attributed" or not tag.click_id:
        return []
    outputs = []
    for event in state.postbacks_sent:
        dep = state.first_deposit if event == "ftd" else None
        at = dep.occurred_at if dep else state.registered_at
        if at is not None and (event == "registration" or dep is not None):
            outputs.append(postback(state, policy, tag, event, at, dep))  # type: ignore[arg-type]
    return outputs


def revocations(
    state: PlayerState, policy: PlayerPolicy, at: datetime, now: datetime
) -> list[Output]:
    """When a change forbids postbacks, tell the delivery engine (and affiliates reading the
    postback topic) to drop what is still pending for this player: consent is enforced at send
    time, not only when a postback is made. Sent for every attributed player, whether or not a
    conversion postback went: a deposit postback made after suppressed conversions, or the
    commissions stage's qualified_cpa, may be waiting for its retry too. Reads no row."""
    tag = state.tag
    reason = postback_block(state.consents, state.rg_active, at)
    if reason is None or tag is None or tag.status != "attributed":
        return []
    revocation = PostbackRevocation(
        affiliate_id=tag.affiliate_id,
        player_token=player_token(policy.pseudonym_key, tag.affiliate_id, state.person_id),
        reason=reason, revoked_at=now,
    )
    return [Output(Topic.POSTBACKS, tag.affiliate_id, revocation)]
