"""The models of `schemas/stream/`: the records the stages write for each other and for the
sinks (click links, attributions, canonical events, per-day facts, player profiles)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from clickpath.contracts.models.base import AddedDecimal, Id, Record, Timestamp


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
    # v2: the click the player is attributed to and its sub ids, and why no postback about the
    # player may go (domain/consent.py): what the commissions stage's qualified_cpa needs.
    click_id: str | None = None
    sub1: str | None = None
    sub2: str | None = None
    sub3: str | None = None
    sub4: str | None = None
    sub5: str | None = None
    postback_block: str | None = None
