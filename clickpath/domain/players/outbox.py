"""The player's postbacks, made with the shared builder (domain/postbacks.py).

Both the conversion postbacks (registration, FTD) and the deposit postbacks and reversals are
made from the same three things: the player, their tag (whom it credits) and the policy's
pseudonym key. Binding them once here keeps conversions.py and deposits.py from each
unpacking them. Reads and writes no ledger row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from clickpath.contracts.models import PostbackEvent
from clickpath.domain.money import DepositRef
from clickpath.domain.outputs import Output
from clickpath.domain.players.state import PlayerPolicy, PlayerState, Tag
from clickpath.domain.postbacks import make_postback, suppressed_postback


def postback(
    state: PlayerState,
    policy: PlayerPolicy,
    tag: Tag,
    event: PostbackEvent,
    at: datetime,
    dep: DepositRef | None,
    key: str | None = None,
    reverses: Literal["ftd", "deposit"] | None = None,
) -> Output:
    """A postback of `event` for the player (`dep`: the deposit it reports, if any; `key`: its
    id key when it is not the event alone)."""
    return make_postback(
        state.person_id, state.brand_id, tag, event, at, policy.pseudonym_key, key=key,
        amount=dep.amount if dep else None, currency=dep.currency if dep else None,
        transaction_id=dep.transaction_id if dep else None, reverses=reverses,
    )


def suppressed(state: PlayerState, tag: Tag, event: str, reason: str, now: datetime,
               key: str | None = None) -> Output:
    """The delivery log's record of the player's postback of `event` not sent, and why."""
    return suppressed_postback(state.person_id, state.brand_id, tag.affiliate_id, event, reason,
                               now, key)
