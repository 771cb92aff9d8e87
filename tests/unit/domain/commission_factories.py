"""Plans, records and a small engine for the commission decision tests: one state and one
ledger per affiliate, as the stage keeps them, and the entries written read back."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from clickpath.contracts.models.commissions import (
    AffiliatePlayerStatus,
    CommissionFlag,
    LedgerEntry,
    PlayerPeriodValue,
    PlayerQualification,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.commissions import (
    AffiliateState,
    CommissionPolicy,
    CommissionRecord,
    decide_commissions,
    replay_commissions,
)
from clickpath.domain.fx import FxRate, FxTable
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.outputs import Outcome
from clickpath.domain.plans import (
    Assignment,
    Band,
    CpaTerms,
    PlanBook,
    PlanVersion,
    RevShareTerms,
)
from clickpath.domain.pseudonym import player_token

KEY = b"test-key"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
D = Decimal


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def version(
    plan_id: str = "p", number: int = 1, *, effective_from: date = date(2026, 1, 1),
    currency: str = "EUR", cpa: CpaTerms | None = None, revshare: RevShareTerms | None = None,
    sub_affiliate_share: str | None = None,
) -> PlanVersion:
    return PlanVersion(
        plan_id=plan_id, version=number, effective_from=effective_from, currency=currency,
        cpa=cpa, revshare=revshare,
        sub_affiliate_share=D(sub_affiliate_share) if sub_affiliate_share else None,
        source="config", recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def cpa(amount: str = "100", **terms: Any) -> CpaTerms:
    return CpaTerms(amount=D(amount), **terms)


def flat(rate: str, **terms: Any) -> RevShareTerms:
    return RevShareTerms(mode="flat", rate=D(rate), **terms)


def banded(mode: str, bands: list[tuple[str, str]], **terms: Any) -> RevShareTerms:
    return RevShareTerms(
        mode=mode, bands=[Band.model_validate({"from": D(f), "rate": D(r)}) for f, r in bands],
        **terms,
    )


def book(versions: list[PlanVersion], assign: dict[str, str]) -> PlanBook:
    return PlanBook(
        versions, [Assignment(plan_id=p, affiliate_id=a) for a, p in assign.items()]
    )


def policy(
    plans: PlanBook, *, parents: dict[str, str | None] | None = None,
    payout: dict[str, str] | None = None, rates: list[tuple[str, str, date]] | None = None,
) -> CommissionPolicy:
    fx = FxTable("EUR", [FxRate(currency=c, rate=D(r), effective_from=d) for c, r, d in rates or []])
    return CommissionPolicy(
        plans=plans, fx=fx, pseudonym_key=KEY, parents=parents or {},
        payout_currencies=payout or {},
    )


def value(
    person: str, period: str, number: int, *, ngr: str = "0", stakes: str | None = None,
    wins: str = "0", bonus: str = "0", chargebacks: str = "0", deposits: str = "0",
    withdrawals: str = "0", ftds: int = 0, wagers: int = 1, affiliate: str = "aff-a",
    currency: str = "EUR", cause: str = "activity", occurred_at: datetime | None = None,
) -> PlayerPeriodValue:
    """A player's period value; `ngr` alone sets stakes to it (no wins, no deductions)."""
    return PlayerPeriodValue(
        affiliate_id=affiliate, person_id=person, brand_id="b1", period=period,
        currency=currency, version=number, stakes=D(stakes if stakes is not None else ngr),
        wins=D(wins), bonus_cost=D(bonus), chargeback_sum=D(chargebacks),
        deposit_sum=D(deposits), withdrawal_sum=D(withdrawals), deposits=0, ftds=ftds,
        real_wagers=wagers, caused_by=[f"ev-{person}-{period}-{number}"], cause=cause,
        occurred_at=occurred_at or at(f"{period}-15"),
    )


def qualification(
    person: str, number: int, status: str = "qualified", *, qualified_at: datetime | None = None,
    occurred_at: datetime | None = None, reason: str | None = None, plan: tuple[str, int] = ("p", 1),
    affiliate: str = "aff-a", brand: str = "b1", country: str | None = None,
    campaign: str | None = "camp-1", **reported: Any,
) -> PlayerQualification:
    """`reported`: what the qualified_cpa postback reports (click_id, sub1.., postback_block)."""
    return PlayerQualification(
        affiliate_id=affiliate, person_id=person, brand_id=brand, country=country,
        version=number, status=status, qualified_at=qualified_at, reason=reason,
        plan_id=plan[0], plan_version=plan[1], registered_at=at("2026-01-01"),
        caused_by=[f"q-{person}-{number}"],
        occurred_at=occurred_at or qualified_at or at("2026-03-01"), campaign_id=campaign,
        **reported,
    )


def flag(flag_id: str, person: str, action: str, flagged_at: datetime,
         affiliate: str = "aff-a", kind: str = "fraud") -> CommissionFlag:
    return CommissionFlag(
        flag_id=flag_id, person_id=person, affiliate_id=affiliate, kind=kind,
        action=action, reason="crafted", caused_by=[f"flag-{flag_id}"], flagged_at=flagged_at,
    )


@dataclass
class Engine:
    """The commission stage in memory: a state and a ledger per affiliate."""

    policy: CommissionPolicy
    states: dict[str, AffiliateState | None] = field(default_factory=lambda: defaultdict(lambda: None))
    ledgers: dict[str, MemoryLedger] = field(default_factory=lambda: defaultdict(MemoryLedger))
    entries: list[LedgerEntry] = field(default_factory=list)
    statuses: list[AffiliatePlayerStatus] = field(default_factory=list)

    def send(self, record: CommissionRecord, now: datetime = NOW) -> tuple[list[LedgerEntry], Outcome]:
        key = record.affiliate_id
        state, outputs, outcome = decide_commissions(
            self.states[key], record, self.policy, now, ledger=self.ledgers[key]
        )
        self.states[key] = state
        written = []
        for o in outputs:
            assert o.key == o.record.affiliate_id
            if isinstance(o.record, AffiliatePlayerStatus):
                assert o.topic is Topic.AFFILIATE_PLAYERS
                self.statuses.append(o.record)
                continue
            assert isinstance(o.record, LedgerEntry)
            written.append(o.record)
        self.entries += written
        return written, outcome

    def status(self, person: str, affiliate: str = "aff-a") -> AffiliatePlayerStatus | None:
        """The player's newest status sent (the highest version), as the sink's view reads it."""
        mine = [s for s in self.statuses if s.player_token == token(person, affiliate)]
        return max(mine, key=lambda s: s.version) if mine else None

    def replay(self, record: CommissionRecord, now: datetime = NOW) -> list[LedgerEntry]:
        key = record.affiliate_id
        state = self.states[key]
        assert state is not None
        outputs = replay_commissions(state, record, self.policy, now, ledger=self.ledgers[key])
        return [o.record for o in outputs if isinstance(o.record, LedgerEntry)]

    def total(self, **match: Any) -> Decimal:
        return sum(
            (e.amount for e in self.entries if all(getattr(e, k) == v for k, v in match.items())),
            D(0),
        )

    def nets(self) -> dict[tuple[str, str, str, str, str | None], Decimal]:
        """Net amount per (affiliate, period, currency, component, player_token), zeros left out."""
        out: dict[tuple[str, str, str, str, str | None], Decimal] = defaultdict(Decimal)
        for e in self.entries:
            out[(e.affiliate_id, e.period, e.currency, e.component, e.player_token)] += e.amount
        return {k: v for k, v in out.items() if v != 0}

    def of(self, **match: Any) -> list[tuple[str, str, str, Decimal, str | None]]:
        """(period, component, kind, amount, reason) of the matching entries, in order."""
        return [
            (e.period, e.component, e.kind, e.amount, e.reason)
            for e in self.entries if all(getattr(e, k) == v for k, v in match.items())
        ]


def token(person: str, affiliate: str = "aff-a") -> str:
    return player_token(KEY, affiliate, person)
