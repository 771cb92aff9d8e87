"""The models of `schemas/ingress/`: what operators, the tracker and the web SDK send.

Every ingress event carries the envelope (`IngressEvent`); an event about a player also carries
the player, and its partition key is the brand account `person_id_of(brand_id, player_id)`.
`EventBatch` is the record a door packs many of them into for one partition.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from clickpath.contracts.models.base import (
    Amount,
    Currency,
    Id,
    IpPrefix,
    PaymentStatus,
    Pseudonym,
    Record,
    SealableId,
    SealableIpPrefix,
    SealablePseudonym,
    SealableText,
    Text,
    Timestamp,
)


class IngressEvent(Record):
    """The envelope every ingress event carries (docs/topics.md, 'The event envelope')."""

    event_id: Id
    event_type: str
    occurred_at: Timestamp
    received_at: Timestamp | None = None
    brand_id: Id
    source: Id
    # What a source sent beyond the schema, kept when its mapping says so (docs/import.md).
    attributes: dict[str, Text] = Field(default_factory=dict, max_length=64)


class PlayerEvent(IngressEvent):
    """An ingress event about one player of one brand."""

    player_id: Id

    @property
    def person_id(self) -> str:
        return person_id_of(self.brand_id, self.player_id)


def person_id_of(brand_id: str, player_id: str) -> str:
    """The identity key of a player; also the partition key of every event about them."""
    return f"{brand_id}:{player_id}"


class Click(IngressEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Click"
    event_type: Literal["click"] = "click"
    click_id: Id
    affiliate_id: Id
    campaign_id: Id
    sub1: Text | None = None
    sub2: Text | None = None
    sub3: Text | None = None
    sub4: Text | None = None
    sub5: Text | None = None
    tracking_code: Text | None = None
    landing_url: Text | None = None
    referrer: Text | None = None
    user_agent: Text | None = None
    ip_hash: Pseudonym | None = None
    ip_prefix: IpPrefix | None = None
    country: Text | None = None
    device_id: Text | None = None
    bot_reason: Text | None = None


class PageView(IngressEvent):
    """Page context from the web SDK (with consent), about the click that brought the visitor.

    Not an operator event type (the event API does not take it): only `/v1/collect` makes it.
    """

    avro_name: ClassVar[str] = "io.clickpath.ingress.PageView"
    event_type: Literal["page_view"] = "page_view"
    click_id: Id
    page_url: Text | None = None
    referrer: Text | None = None
    viewport: Literal["small", "medium", "large"] | None = None
    language: Annotated[str, StringConstraints(max_length=35)] | None = None
    platform: Annotated[str, StringConstraints(max_length=64)] | None = None
    user_agent: Text | None = None
    device_id: Text | None = None
    ip_hash: Pseudonym | None = None
    ip_prefix: IpPrefix | None = None
    country: Text | None = None


class Registration(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Registration"
    event_type: Literal["registration"] = "registration"
    click_id: Id | None = None
    email_hash: SealablePseudonym | None = None
    phone_hash: SealablePseudonym | None = None
    country: Text | None = None
    device_id: SealableText | None = None
    ip_hash: SealablePseudonym | None = None
    ip_prefix: SealableIpPrefix | None = None
    customer_id: SealableId | None = None  # v3: the operator's own cross-brand id (docs/identity.md)
    # v4: during a pseudonym key's grace period, the same e-mail and phone under the previous
    # key's version, so the identity graph links them to accounts from before the rotation
    # (docs/privacy.md#pseudonym-key-rotation); none outside a grace period.
    previous_email_hash: SealablePseudonym | None = None
    previous_phone_hash: SealablePseudonym | None = None


class Kyc(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Kyc"
    event_type: Literal["kyc"] = "kyc"
    status: Literal["pending", "verified", "rejected"]
    level: Text | None = None


class Login(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Login"
    event_type: Literal["login"] = "login"
    session_id: Text | None = None
    device_id: SealableText | None = None
    user_agent: SealableText | None = None
    ip_hash: SealablePseudonym | None = None
    ip_prefix: SealableIpPrefix | None = None
    customer_id: SealableId | None = None  # v3: the operator's own cross-brand id (docs/identity.md)


class Deposit(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Deposit"
    event_type: Literal["deposit"] = "deposit"
    transaction_id: Id
    amount: Amount
    currency: Currency
    method: Text | None = None
    status: PaymentStatus | None = None  # absent: approved


class Withdrawal(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Withdrawal"
    event_type: Literal["withdrawal"] = "withdrawal"
    transaction_id: Id
    amount: Amount
    currency: Currency
    status: PaymentStatus | None = None  # absent: approved


class Chargeback(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Chargeback"
    event_type: Literal["chargeback"] = "chargeback"
    chargeback_id: Id
    transaction_id: Id
    amount: Amount
    currency: Currency
    reason: Text | None = None


class Wager(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Wager"
    event_type: Literal["wager"] = "wager"
    wager_id: Id
    stake: Amount
    win: Amount
    bonus_stake: Amount
    currency: Currency
    game_category: Literal["casino", "live_casino", "sports", "poker", "other"]


class Bonus(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Bonus"
    event_type: Literal["bonus"] = "bonus"
    bonus_id: Id
    action: Literal["granted", "wagered", "converted", "forfeited"]
    amount: Amount
    currency: Currency


class Consent(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Consent"
    event_type: Literal["consent"] = "consent"
    purpose: Literal["marketing_email", "marketing_sms", "affiliate_data_sharing", "profiling"]
    granted: bool


class ResponsibleGaming(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.ResponsibleGaming"
    event_type: Literal["responsible_gaming"] = "responsible_gaming"
    kind: Literal["self_exclusion", "cool_off", "deposit_limit", "account_closure"]
    action: Literal["start", "end"]
    until: Timestamp | None = None
    limit_amount: Amount | None = None
    currency: Currency | None = None


class ErasureRequest(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.ErasureRequest"
    event_type: Literal["erasure_request"] = "erasure_request"
    requested_by: Text | None = None


# The personal fields a door seals under the player's key (docs/privacy.md#erasure), per event
# type: the only player events that carry any.
SEALED_FIELDS: dict[str, tuple[str, ...]] = {
    "registration": ("email_hash", "phone_hash", "previous_email_hash", "previous_phone_hash",
                     "device_id", "ip_hash", "ip_prefix", "customer_id"),
    "login": ("device_id", "user_agent", "ip_hash", "ip_prefix", "customer_id"),
}

PLAYER_EVENT_TYPES: tuple[type[PlayerEvent], ...] = (
    Registration, Kyc, Login, Deposit, Withdrawal, Chargeback, Wager, Bonus, Consent,
    ResponsibleGaming, ErasureRequest,
)
_INGRESS_CLASSES: tuple[type[IngressEvent], ...] = (Click, *PLAYER_EVENT_TYPES)
INGRESS_TYPES: dict[str, type[IngressEvent]] = {
    str(cls.model_fields["event_type"].default): cls for cls in _INGRESS_CLASSES
}


class BatchItem(BaseModel):
    """One event of an `EventBatch`: its key and its complete single-record bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str
    value: bytes


EVENT_BATCH_MAX_BYTES = 256 * 1024  # doors split beyond this; far below Kafka's 1 MiB default


class EventBatch(Record):
    """Many events bound for one partition, in one Kafka record (docs/topics.md, 'Batch records').

    Each item is what a single record would carry, so an agent applies items exactly as it
    would apply single records, and a bad item fails alone."""

    avro_name: ClassVar[str] = "io.clickpath.ingress.EventBatch"
    items: list[BatchItem]
