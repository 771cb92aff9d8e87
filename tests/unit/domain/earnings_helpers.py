"""Builders for the earnings tests: canonical events as the player stage writes them, profiles,
a plan book with the API of domain/plans, and a run of records through the decision."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from clickpath.contracts.models import (
    CanonicalEvent,
    Chargeback,
    Kyc,
    PlayerEvent,
    PlayerPeriodValue,
    PlayerProfile,
    PlayerQualification,
    Wager,
)
from clickpath.domain.earnings import EarningsPolicy, EarningsState, decide_earnings
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.outputs import Output, canonical_of
from clickpath.domain.plans import Assignment, CpaTerms, PlanBook, PlanVersion, RevShareTerms
from tests.factories import at

NOW = at(100_000)
COMMON = {"brand_id": "brand-a", "player_id": "p1", "source": "crm"}


def Cpa(  # noqa: N802 - reads as the terms it builds
    min_first_deposit: Decimal | None = Decimal("20"), min_total_deposits: Decimal | None = None,
    kyc_verified: bool = False, min_wagering: Decimal | None = None, within_days: int = 30,
    clawback_days: int | None = 90,
) -> CpaTerms:
    """CPA terms of 100.00 with, by default, a first deposit of at least 20 (aff-alpha's)."""
    return CpaTerms(
        amount=Decimal("100.00"), min_first_deposit=min_first_deposit,
        min_total_deposits=min_total_deposits, kyc_verified=kyc_verified,
        min_wagering=min_wagering, within_days=within_days, clawback_days=clawback_days,
    )


def policy(cpa: CpaTerms | None = None, tz: str = "UTC") -> EarningsPolicy:
    """aff-a on a CPA plan (from 2020), aff-b and aff-x on a RevShare-only plan (no CPA)."""
    versions = [
        PlanVersion(plan_id="cpa-a", version=1, effective_from=date(2020, 1, 1), currency="EUR",
                    cpa=cpa or Cpa(), source="config", recorded_at=at(0)),
        PlanVersion(plan_id="rs", version=1, effective_from=date(2020, 1, 1), currency="EUR",
                    revshare=RevShareTerms(mode="flat", rate=Decimal("0.3")), source="config",
                    recorded_at=at(0)),
    ]
    assignments = [Assignment(plan_id="cpa-a", affiliate_id="aff-a"),
                   Assignment(plan_id="rs", affiliate_id="aff-b"),
                   Assignment(plan_id="rs", affiliate_id="aff-x")]
    return EarningsPolicy(book=PlanBook(versions, assignments), time_zone=ZoneInfo(tz))


def canonical(event: PlayerEvent) -> CanonicalEvent:
    return canonical_of(event, event.person_id, NOW)


def profile(version: int, affiliate: str = "aff-a", status: str = "attributed",
            registered_at: datetime | None = None,
            ftd: tuple[datetime, str] | None = None) -> PlayerProfile:
    """The player stage's profile; `ftd`: its FTD's (time, amount) in EUR, as it found it."""
    return PlayerProfile(
        person_id="brand-a:p1", brand_id="brand-a", player_id="p1", registered_at=registered_at,
        first_deposit_at=ftd[0] if ftd else None, ftd_amount=Decimal(ftd[1]) if ftd else None,
        ftd_currency="EUR" if ftd else None,
        deposits=0, declined_deposits=0, withdrawals=0, chargebacks=0, money=[], sessions=0,
        consents={}, rg_active=[], tag_status=status, affiliate_id=affiliate,
        campaign_id="camp-1", churn_risk=0.0, updated_at=at(version), version=version,
    )


def kyc(minutes: float, status: str = "verified") -> Kyc:
    return Kyc(event_id=f"ev-kyc-{minutes}", occurred_at=at(minutes), status=status, **COMMON)


def wager(wager_id: str, stake: str, minutes: float, win: str = "0") -> Wager:
    return Wager(event_id=f"ev-{wager_id}", occurred_at=at(minutes), wager_id=wager_id,
                 stake=Decimal(stake), win=Decimal(win), bonus_stake=Decimal(0), currency="EUR",
                 game_category="casino", **COMMON)


def chargeback(cb_id: str, txn: str, amount: str, minutes: float) -> Chargeback:
    return Chargeback(event_id=f"ev-{cb_id}", occurred_at=at(minutes), chargeback_id=cb_id,
                      transaction_id=txn, amount=Decimal(amount), currency="EUR", **COMMON)


def run(records: list[CanonicalEvent | PlayerProfile], pol: EarningsPolicy,
        state: EarningsState | None = None, ledger: MemoryLedger | None = None,
        ) -> tuple[EarningsState | None, list[Output], MemoryLedger]:
    ledger = ledger if ledger is not None else MemoryLedger()
    outputs: list[Output] = []
    for record in records:
        state, outs, _ = decide_earnings(state, record, pol, NOW, ledger=ledger)
        outputs += outs
    return state, outputs, ledger


def newest(outputs: list[Output]) -> tuple[dict[tuple[str, str, str], PlayerPeriodValue],
                                           dict[str, PlayerQualification]]:
    """What a reader keeps: per (affiliate, period, currency) and per affiliate the newest."""
    values: dict[tuple[str, str, str], PlayerPeriodValue] = {}
    quals: dict[str, PlayerQualification] = {}
    for out in outputs:
        r = out.record
        if isinstance(r, PlayerPeriodValue):
            key = (r.affiliate_id, r.period, r.currency)
            if key not in values or values[key].version < r.version:
                values[key] = r
        elif isinstance(r, PlayerQualification) and (
            r.affiliate_id not in quals or quals[r.affiliate_id].version < r.version
        ):
            quals[r.affiliate_id] = r
    return values, quals
