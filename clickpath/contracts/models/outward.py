"""The models of `schemas/outward/`: what leaves the pipeline or is kept about it (postbacks,
their revocations, delivery jobs and attempts, dead letters)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from clickpath.contracts.models.base import Record, Timestamp

PostbackEvent = Literal["registration", "ftd", "deposit", "qualified_cpa", "chargeback"]


class Postback(Record):
    avro_name: ClassVar[str] = "io.clickpath.outward.Postback"
    postback_id: str
    affiliate_id: str
    campaign_id: str
    brand_id: str
    event: PostbackEvent
    click_id: str
    sub1: str | None = None
    sub2: str | None = None
    sub3: str | None = None
    sub4: str | None = None
    sub5: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    player_token: str
    transaction_id: str | None = None
    occurred_at: Timestamp
    reverses: Literal["ftd", "deposit"] | None = None  # chargeback: the conversion it reverses
    # When clickpath received what made it due: the delivered latency counts from here.
    received_at: Timestamp | None = None
    # qualified_cpa (v4): the CPA accrued to the affiliate, in its payout currency.
    payout: Decimal | None = None
    payout_currency: str | None = None


WebhookEvent = Literal["qualified_cpa", "statement_closed"]


class Webhook(Record):
    """A webhook no canonical event stands for: the commissions stage's qualified_cpa, the
    period close's statement_closed. `data` is the payload's JSON object; the player, if any,
    rides beside it (`person_id`, `player_id`) so that the renderer gives an affiliate-scoped
    endpoint the per-affiliate token and an operator's endpoint the player id."""

    avro_name: ClassVar[str] = "io.clickpath.outward.Webhook"
    webhook_id: str
    event: WebhookEvent
    affiliate_id: str
    brand_id: str | None = None
    person_id: str | None = None
    player_id: str | None = None
    affiliate_block: str | None = None
    occurred_at: Timestamp
    received_at: Timestamp | None = None
    data: str


DEAD_LETTER_REASON_MAX = 2000  # a reason is for people; the record keeps the bytes


class DeadLetter(Record):
    avro_name: ClassVar[str] = "io.clickpath.outward.DeadLetter"
    original_key: bytes | None = None
    original_value: bytes
    topic: str
    partition: int
    offset: int
    stage: str
    reason: str
    failed_at: Timestamp
    batch_index: int | None = None

    @classmethod
    def of(
        cls, *, key: bytes | None, value: bytes | None, topic: str, partition: int, offset: int,
        stage: str, reason: str, at: datetime, batch_index: int | None = None,
    ) -> DeadLetter:
        """The one way a dead letter is made: the bytes whole, where they were, and why.

        For one bad item of an `EventBatch`, `key` and `value` are the item's own and
        `batch_index` says which item of the record at `offset` it was."""
        return cls(
            original_key=key, original_value=value or b"", topic=topic, partition=partition,
            offset=offset, stage=stage, reason=reason[:DEAD_LETTER_REASON_MAX], failed_at=at,
            batch_index=batch_index,
        )


class PostbackRevocation(Record):
    avro_name: ClassVar[str] = "io.clickpath.outward.PostbackRevocation"
    affiliate_id: str
    player_token: str
    reason: str
    revoked_at: Timestamp


class DeliveryJob(Record):
    avro_name: ClassVar[str] = "io.clickpath.outward.DeliveryJob"
    job_id: str
    endpoint_id: str
    kind: Literal["postback", "webhook"]
    event: str
    attempt: int
    due_at: Timestamp
    created_at: Timestamp
    occurred_at: Timestamp
    record: bytes
    last_error: str | None = None
    received_at: Timestamp | None = None  # the source's; the delivered latency counts from here


class DeliveryAttempt(Record):
    avro_name: ClassVar[str] = "io.clickpath.outward.DeliveryAttempt"
    job_id: str
    endpoint_id: str
    kind: str
    event: str
    affiliate_id: str | None = None
    brand_id: str | None = None
    attempt: int
    status: int | None = None
    latency_ms: int
    outcome: Literal["delivered", "retry", "dead_letter", "disabled", "refused", "suppressed"]
    error: str | None = None
    attempted_at: Timestamp
