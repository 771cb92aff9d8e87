"""Postbacks as any stage makes them: the record, its id, and the log line of one not sent.

The player stage makes registration, FTD, deposit and reversal postbacks; the stages to come
(commissions, CRM) make theirs with the same builder, without importing the player stage. A
postback's id is a digest of the player, the affiliate and what it reports, so the same
conversion made again (a replay after a crash, an input read twice) keeps its id and the
delivery engine and receivers drop the repeat (docs/delivery.md). Deciding whether a postback is
due, or blocked by consent, is the calling stage's job, not this module's.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from clickpath.contracts.models import DeliveryAttempt, Postback, PostbackEvent
from clickpath.contracts.topics import Topic
from clickpath.domain.outputs import Output
from clickpath.domain.pseudonym import player_token


class Credit(Protocol):
    """Whom a postback credits: the attribution the stage holds for the player."""

    @property
    def affiliate_id(self) -> str: ...

    @property
    def campaign_id(self) -> str: ...

    @property
    def click_id(self) -> str | None: ...

    @property
    def subs(self) -> list[str | None]: ...  # sub1 to sub5


def postback_id(person_id: str, affiliate_id: str, key: str) -> str:
    """The id of what `key` reports for this player and affiliate: the event alone
    ("registration", "ftd") or with the transaction it is about ("deposit|t1")."""
    return hashlib.sha256(f"{person_id}|{affiliate_id}|{key}".encode()).hexdigest()[:32]


def job_id(source_id: str, endpoint_id: str) -> str:
    """A delivery's idempotency id (sinks/delivery/intake.py): the same for every attempt and
    every replay of what `source_id` names (a postback or webhook id, a canonical event's
    `event_id|webhook event`) to one endpoint."""
    return hashlib.sha256(f"{source_id}|{endpoint_id}".encode()).hexdigest()[:32]


def make_postback(
    person_id: str,
    brand_id: str,
    credit: Credit,
    event: PostbackEvent,
    at: datetime,
    pseudonym_key: bytes,
    *,
    key: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    transaction_id: str | None = None,
    reverses: Literal["ftd", "deposit"] | None = None,
    payout: Decimal | None = None,
    payout_currency: str | None = None,
) -> Output:
    """A postback to the credited affiliate (keyed by affiliate on the postback topic).
    `key`: the id key when it is not the event alone; the player appears only as the
    per-affiliate token made with `pseudonym_key`."""
    postback = Postback(
        postback_id=postback_id(person_id, credit.affiliate_id, key or event),
        affiliate_id=credit.affiliate_id,
        campaign_id=credit.campaign_id,
        brand_id=brand_id,
        event=event,
        click_id=credit.click_id or "",
        sub1=credit.subs[0],
        sub2=credit.subs[1],
        sub3=credit.subs[2],
        sub4=credit.subs[3],
        sub5=credit.subs[4],
        amount=amount,
        currency=currency,
        player_token=player_token(pseudonym_key, credit.affiliate_id, person_id),
        transaction_id=transaction_id,
        occurred_at=at,
        reverses=reverses,
        payout=payout,
        payout_currency=payout_currency,
    )
    return Output(Topic.POSTBACKS, credit.affiliate_id, postback)


def suppressed_postback(
    person_id: str, brand_id: str, affiliate_id: str, event: str, reason: str, now: datetime,
    key: str | None = None,
) -> Output:
    """The delivery log's record of a postback not sent, and why (docs/delivery.md), under the
    id the postback would have had (`key` as for `make_postback`)."""
    record = DeliveryAttempt(
        job_id=postback_id(person_id, affiliate_id, key or event), endpoint_id="-",
        kind="postback", event=event, affiliate_id=affiliate_id, brand_id=brand_id,
        attempt=0, latency_ms=0, outcome="suppressed", error=reason, attempted_at=now,
    )
    return Output(Topic.DELIVERY_ATTEMPTS, affiliate_id, record)
