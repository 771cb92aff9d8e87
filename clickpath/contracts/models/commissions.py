"""The models of `schemas/commissions/`: what the commission stages read and write.

The earnings stage (per brand account) sends each player's value per period and their CPA
qualification to the commissions stage (per affiliate), which writes the ledger. Both earnings
records are cumulative, the newest `version` wins, so a record sent again (a replay, a crash)
changes nothing. Ledger entries are append-only; amounts may be negative (adjustments,
clawbacks, carry-overs), in the affiliate's payout currency, rounded to its minor unit.
docs/commissions.md describes each field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from clickpath.contracts.models.base import Record, Timestamp

QualificationStatus = Literal["qualified", "pending", "reversed", "none"]
FlagAction = Literal["hold", "release", "clawback"]
EntryKind = Literal["accrual", "adjustment", "clawback", "carry_over", "roll_over"]
# `manual`: an operator's adjustment; `payout`: a roll-over of a closed total (docs/commissions.md).
EntryComponent = Literal["cpa", "revshare", "sub_affiliate", "manual", "payout"]
ValueCause = Literal["activity", "chargeback", "retag", "replay"]
PlayerStatus = Literal["qualified", "pending", "held", "reversed", "not_attributed"]


class PlayerPeriodValue(Record):
    """A player's value in one period and currency, under their current affiliate: the lines
    every NGR formula is made of (domain/plans), cumulative for the period."""

    avro_name: ClassVar[str] = "io.clickpath.commissions.PlayerPeriodValue"
    affiliate_id: str
    person_id: str
    brand_id: str
    country: str | None = None
    period: str
    currency: str
    version: int
    registered_at: Timestamp | None = None
    stakes: Decimal
    wins: Decimal
    bonus_cost: Decimal
    chargeback_sum: Decimal
    deposit_sum: Decimal
    withdrawal_sum: Decimal
    deposits: int
    ftds: int
    real_wagers: int
    caused_by: list[str]
    cause: ValueCause
    occurred_at: Timestamp


class PlayerQualification(Record):
    """Whether the player qualifies for their affiliate's CPA, since when (event time) and why
    not: the reason codes are listed in docs/commissions.md."""

    avro_name: ClassVar[str] = "io.clickpath.commissions.PlayerQualification"
    affiliate_id: str
    person_id: str
    brand_id: str
    country: str | None = None
    version: int
    status: QualificationStatus
    qualified_at: Timestamp | None = None
    reason: str | None = None
    plan_id: str | None = None
    plan_version: int | None = None
    registered_at: Timestamp | None = None
    caused_by: list[str]
    occurred_at: Timestamp
    campaign_id: str | None = None
    # The newest profile's `affiliate_data_sharing` consent: False withdrawn; None not known
    # (an earnings version or state that did not keep it): read as not sharing, so an
    # affiliate is never shown a player whose consent is not known.
    shares_data: bool | None = None
    # v2, from the player's profile: what the qualified_cpa postback reports, and whether it may.
    click_id: str | None = None
    sub1: str | None = None
    sub2: str | None = None
    sub3: str | None = None
    sub4: str | None = None
    sub5: str | None = None
    postback_block: str | None = None


class CommissionFlag(Record):
    """An instruction about one player's commissions for one affiliate (fraud and CRM signals):
    hold them, release a hold, or claw back what was earned on the player."""

    avro_name: ClassVar[str] = "io.clickpath.commissions.CommissionFlag"
    flag_id: str
    person_id: str
    affiliate_id: str
    kind: str
    action: FlagAction
    reason: str
    caused_by: list[str]
    flagged_at: Timestamp


class LedgerEntry(Record):
    """One append-only commission ledger entry; `entry_id` is the same whenever the same cause
    is written again, so readers can drop a re-sent entry."""

    avro_name: ClassVar[str] = "io.clickpath.commissions.LedgerEntry"
    entry_id: str
    affiliate_id: str
    period: str
    kind: EntryKind
    component: EntryComponent
    amount: Decimal
    currency: str
    original_amount: Decimal
    original_currency: str
    fx_rate: Decimal
    plan_id: str
    plan_version: int
    player_token: str | None = None
    caused_by: list[str]
    reason: str | None = None
    occurred_at: Timestamp
    recorded_at: Timestamp
    # On entries about one player, the player's registration, brand and campaign: the cohort
    # report sums the CPA accrued per cohort from them (docs/cohorts.md).
    registered_at: Timestamp | None = None
    player_brand_id: str | None = None
    player_campaign_id: str | None = None


class AffiliatePlayerStatus(Record):
    """Why one of an affiliate's players does or does not earn it a CPA, as the commission
    stage sees it now: sent only when it changes, the highest `version` per (affiliate_id,
    player_token) is the player. Reason codes: docs/affiliate-api.md. No raw player id: the
    per-affiliate token only; `shares_data` False keeps the player out of every list (counted in
    totals only)."""

    avro_name: ClassVar[str] = "io.clickpath.commissions.AffiliatePlayerStatus"
    affiliate_id: str
    player_token: str
    brand_id: str
    campaign_id: str | None = None
    registered_at: Timestamp | None = None
    status: PlayerStatus
    reasons: list[str]
    cpa_amount: Decimal
    currency: str
    qualified_at: Timestamp | None = None
    shares_data: bool
    version: int
    updated_at: Timestamp
