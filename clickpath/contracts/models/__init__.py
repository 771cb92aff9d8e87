"""Pydantic models of every Avro record in `schemas/`, split as `schemas/` is.

The `.avsc` files are the contract; these models add validation (lengths, money, currencies)
and must list the same fields with the same types: `tests/unit/contracts/test_schemas.py` fails
when a model and its schema drift. Money is `Decimal` with a currency, never float.

`base` holds the shared field types and `Record`; `ingress`, `stream` and `outward` hold the
models of `schemas/ingress/`, `schemas/stream/` and `schemas/outward/`. Import from this
package (`from clickpath.contracts.models import Deposit`): every public name is here.
"""

from __future__ import annotations

from clickpath.contracts.models.base import (
    IP_PREFIX_MAX_BITS,
    AddedDecimal,
    Amount,
    Currency,
    Id,
    IpPrefix,
    PaymentStatus,
    Pseudonym,
    Record,
    Text,
    Timestamp,
    check_hex_digest,
    check_ip_prefix,
    utcnow,
)
from clickpath.contracts.models.commissions import (
    AffiliatePlayerStatus,
    CommissionFlag,
    LedgerEntry,
    PlayerPeriodValue,
    PlayerQualification,
)
from clickpath.contracts.models.ingress import (
    EVENT_BATCH_MAX_BYTES,
    INGRESS_TYPES,
    PLAYER_EVENT_TYPES,
    BatchItem,
    Bonus,
    Chargeback,
    Click,
    Consent,
    Deposit,
    ErasureRequest,
    EventBatch,
    IngressEvent,
    Kyc,
    Login,
    PageView,
    PlayerEvent,
    Registration,
    ResponsibleGaming,
    Wager,
    Withdrawal,
    person_id_of,
)
from clickpath.contracts.models.outward import (
    DEAD_LETTER_REASON_MAX,
    DeadLetter,
    DeliveryAttempt,
    DeliveryJob,
    Postback,
    PostbackEvent,
    PostbackRevocation,
    Webhook,
    WebhookEvent,
)
from clickpath.contracts.models.stream import (
    Attribution,
    CanonicalEvent,
    ClickLink,
    CurrencyTotals,
    PlayerDayFact,
    PlayerProfile,
)

ALL_RECORDS: tuple[type[Record], ...] = (
    Click, PageView, *PLAYER_EVENT_TYPES, ClickLink, Attribution, CanonicalEvent, PlayerDayFact, Postback,
    DeadLetter, DeliveryJob, DeliveryAttempt, PostbackRevocation, EventBatch, PlayerProfile,
    PlayerPeriodValue, PlayerQualification, CommissionFlag, LedgerEntry, AffiliatePlayerStatus,
    Webhook,
)

__all__ = [
    "ALL_RECORDS",
    "DEAD_LETTER_REASON_MAX",
    "EVENT_BATCH_MAX_BYTES",
    "INGRESS_TYPES",
    "IP_PREFIX_MAX_BITS",
    "PLAYER_EVENT_TYPES",
    "AddedDecimal",
    "AffiliatePlayerStatus",
    "Amount",
    "Attribution",
    "BatchItem",
    "Bonus",
    "CanonicalEvent",
    "CommissionFlag",
    "Chargeback",
    "Click",
    "ClickLink",
    "Consent",
    "Currency",
    "CurrencyTotals",
    "DeadLetter",
    "DeliveryAttempt",
    "DeliveryJob",
    "Deposit",
    "ErasureRequest",
    "EventBatch",
    "Id",
    "IngressEvent",
    "IpPrefix",
    "Kyc",
    "LedgerEntry",
    "Login",
    "PageView",
    "PaymentStatus",
    "PlayerDayFact",
    "PlayerPeriodValue",
    "PlayerEvent",
    "PlayerProfile",
    "PlayerQualification",
    "Postback",
    "PostbackEvent",
    "PostbackRevocation",
    "Pseudonym",
    "Record",
    "Registration",
    "ResponsibleGaming",
    "Text",
    "Timestamp",
    "Wager",
    "Webhook",
    "WebhookEvent",
    "Withdrawal",
    "check_hex_digest",
    "check_ip_prefix",
    "person_id_of",
    "utcnow",
]
