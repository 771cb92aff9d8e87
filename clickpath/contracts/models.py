"""Pydantic models of every Avro record in `schemas/`.

The `.avsc` files are the contract; these models add validation (lengths, money, currencies)
and must list the same fields with the same types: `tests/unit/test_schemas.py` fails when a
model and its schema drift. Money is `Decimal` with a currency, never float.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from clickpath.contracts.money import ISO_4217, check_currency

# No control characters: ids are printed, logged and joined into keys (domain/ledger.py).
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
Text = Annotated[str, StringConstraints(max_length=2048)]
Currency = Annotated[
    str,
    AfterValidator(check_currency),
    WithJsonSchema({"type": "string", "enum": sorted(ISO_4217)}),
]
# Documented as a string: money travels as a decimal string, never a binary float.
Amount = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("1000000000000"), decimal_places=4),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,13}(\.\d{1,4})?$", "examples": ["25.00"]}),
]
Timestamp = AwareDatetime


def _empty_is_zero(value: object) -> object:
    """An Avro decimal field added with a default reads the default's raw bytes (""): zero."""
    return Decimal(0) if value in ("", b"") else value


# A decimal field added to a schema later: data written before it reads as zero.
AddedDecimal = Annotated[Decimal, BeforeValidator(_empty_is_zero)]
# A payment's status: only approved ones count; absent means approved.
PaymentStatus = Literal["pending", "approved", "declined", "cancelled", "refunded"]

# Pseudonym fields carry what clickpath.domain.pseudonym makes, never the raw value: a keyed
# HMAC-SHA256 as 64 hex digits, and an IP network no finer than /24 (/48 for IPv6). Anything
# else (an e-mail address in `email_hash`, an address in `ip_prefix`) is refused by field.
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
IP_PREFIX_MAX_BITS = {4: 24, 6: 48}


def check_hex_digest(value: str) -> str:
    if not _HEX_DIGEST.match(value):
        raise ValueError("must be a keyed pseudonym: 64 hex digits (HMAC-SHA256), not raw data")
    return value.lower()


def check_ip_prefix(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("must be an IP network prefix such as 203.0.0.0/16") from None
    if "/" not in value or network.prefixlen > IP_PREFIX_MAX_BITS[network.version]:
        raise ValueError(
            f"must be a network prefix of at most /{IP_PREFIX_MAX_BITS[network.version]} "
            "(not an address)"
        )
    return str(network)


Pseudonym = Annotated[str, AfterValidator(check_hex_digest)]
IpPrefix = Annotated[str, AfterValidator(check_ip_prefix)]


class Record(BaseModel):
    """A record with an Avro schema; `avro_name` is the schema's full name."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    avro_name: ClassVar[str]


# --- ingress -------------------------------------------------------------------------------


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
    email_hash: Pseudonym | None = None
    phone_hash: Pseudonym | None = None
    country: Text | None = None
    device_id: Text | None = None
    ip_hash: Pseudonym | None = None
    ip_prefix: IpPrefix | None = None


class Kyc(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Kyc"
    event_type: Literal["kyc"] = "kyc"
    status: Literal["pending", "verified", "rejected"]
    level: Text | None = None


class Login(PlayerEvent):
    avro_name: ClassVar[str] = "io.clickpath.ingress.Login"
    event_type: Literal["login"] = "login"
    session_id: Text | None = None
    device_id: Text | None = None
    user_agent: Text | None = None
    ip_hash: Pseudonym | None = None
    ip_prefix: IpPrefix | None = None


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


PLAYER_EVENT_TYPES: tuple[type[PlayerEvent], ...] = (
    Registration, Kyc, Login, Deposit, Withdrawal, Chargeback, Wager, Bonus, Consent,
    ResponsibleGaming, ErasureRequest,
)
_INGRESS_CLASSES: tuple[type[IngressEvent], ...] = (Click, *PLAYER_EVENT_TYPES)
INGRESS_TYPES: dict[str, type[IngressEvent]] = {
    str(cls.model_fields["event_type"].default): cls for cls in _INGRESS_CLASSES
}


# --- internal stream records ------------------------------------------------------------------


class ClickLink(Record):
    avro_name: ClassVar[str] = "io.clickpath.stream.ClickLink"
    click_id: Id
    person_id: str
    brand_id: Id
    player_id: Id
    registration_event_id: Id
    registered_at: Timestamp


class Attribution(Record):
    avro_name: ClassVar[str] = "io.clickpath.stream.Attribution"
    person_id: str
    brand_id: str
    player_id: str
    click_id: str
    status: Literal["attributed", "unattributed"]
    reason: str | None = None
    affiliate_id: str | None = None
    campaign_id: str | None = None
    sub1: str | None = None
    sub2: str | None = None
    sub3: str | None = None
    sub4: str | None = None
    sub5: str | None = None
    clicked_at: Timestamp | None = None
    registered_at: Timestamp
    decided_at: Timestamp


class CanonicalEvent(Record):
    avro_name: ClassVar[str] = "io.clickpath.stream.CanonicalEvent"
    event_id: str
    event_type: str
    occurred_at: Timestamp
    received_at: Timestamp | None = None
    processed_at: Timestamp
    brand_id: str
    source: str
    person_id: str
    player_id: str | None = None
    click_id: str | None = None
    affiliate_id: str | None = None
    campaign_id: str | None = None
    transaction_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    is_ftd: bool
    payload: str


class PlayerDayFact(Record):
    avro_name: ClassVar[str] = "io.clickpath.stream.PlayerDayFact"
    person_id: str
    brand_id: str
    day: date
    currency: str
    affiliate_id: str
    campaign_id: str
    registrations: int
    ftds: int
    deposits: int
    deposit_sum: Decimal
    version: int
    # The player's value that day (v2); GGR = stakes - wins, NGR = GGR - bonus_cost - chargeback_sum.
    ftd_sum: AddedDecimal = Decimal(0)
    declined_deposits: int = 0
    withdrawals: int = 0
    withdrawal_sum: AddedDecimal = Decimal(0)
    chargebacks: int = 0
    chargeback_sum: AddedDecimal = Decimal(0)
    stakes: AddedDecimal = Decimal(0)
    wins: AddedDecimal = Decimal(0)
    bonus_stakes: AddedDecimal = Decimal(0)
    bonus_cost: AddedDecimal = Decimal(0)
    # When the player registered (v3), on every fact: cohorts by registration (docs/cohorts.md).
    registered_at: Timestamp | None = None


# --- outward ----------------------------------------------------------------------------------


class CurrencyTotals(BaseModel):
    """A player's lifetime money in one currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    currency: str
    deposit_sum: Decimal
    withdrawal_sum: Decimal
    chargeback_sum: Decimal
    stakes: Decimal
    wins: Decimal
    bonus_stakes: Decimal
    bonus_cost: Decimal
    ggr: Decimal
    ngr: Decimal


class PlayerProfile(Record):
    """A player's profile (docs/architecture.md#players) as the player stage last wrote it;
    newest version wins."""

    avro_name: ClassVar[str] = "io.clickpath.stream.PlayerProfile"
    person_id: str
    brand_id: str
    player_id: str
    registered_at: Timestamp | None = None
    kyc_status: str | None = None
    first_deposit_at: Timestamp | None = None
    ftd_amount: Decimal | None = None
    ftd_currency: str | None = None
    deposits: int
    declined_deposits: int
    withdrawals: int
    chargebacks: int
    money: list[CurrencyTotals]
    sessions: int
    last_activity_at: Timestamp | None = None
    first_activity_at: Timestamp | None = None
    activity_events: int = 0
    consents: dict[str, bool]
    rg_active: list[str]
    tag_status: str
    affiliate_id: str
    campaign_id: str
    churn_risk: float
    updated_at: Timestamp
    version: int


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


ALL_RECORDS: tuple[type[Record], ...] = (
    Click, PageView, *PLAYER_EVENT_TYPES, ClickLink, Attribution, CanonicalEvent, PlayerDayFact, Postback,
    DeadLetter, DeliveryJob, DeliveryAttempt, PostbackRevocation, EventBatch, PlayerProfile,
)


def utcnow() -> datetime:
    return datetime.now(UTC)
