"""A player's CPA qualification as a function of the evidence, by event time only.

So the answer is the same whatever order the events arrived in:
- each condition is met at an event time (the FTD's, the deposit or wager that reaches the
  minimum, the earliest verified KYC); `qualified_at` is the latest of them;
- a deposit taken back (charged back, refunded, cancelled) before that moment does not count;
  the moment is found again without it;
- one taken back after it, within `clawback_days`, reverses the qualification when the
  conditions fail without it, judged on what had happened by the reversal's time (deposits made
  after a chargeback do not rescue the CPA);
- the reason of a pending one is the first condition never met (`ftd_below_minimum`,
  `deposits_below_minimum`, `kyc_missing`, `wagering_below_minimum`), else `outside_window`
  when one was met only after `within_days` of registration.
The decision makes "reversed" final (decide.py): a reversed player never qualifies again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from clickpath.domain.earnings.evidence import DepositSeen, WagerSeen
from clickpath.domain.earnings.state import Convert
from clickpath.domain.plans import CpaTerms


@dataclass
class Verdict:
    status: str
    qualified_at: datetime | None = None
    reason: str | None = None
    caused_by: list[str] = field(default_factory=list)
    reversed_at: datetime | None = None
    wagering_met_at: datetime | None = None


@dataclass(frozen=True)
class Evidence:
    registered_at: datetime
    deposits: list[DepositSeen]
    wagers: list[WagerSeen]
    kyc: tuple[datetime, str] | None


def _crossing(
    items: Iterable[tuple[datetime, str, Decimal, str]], needed: Decimal, currency: str,
    convert: Convert,
) -> tuple[datetime, str] | None:
    total = Decimal(0)
    for at, event_id, amount, cur in sorted(items):
        total += convert(amount, cur, currency, at.date()) or Decimal(0)
        if total >= needed:
            return at, event_id
    return None


def conditions(
    rules: CpaTerms, currency: str, ev: Evidence, excluded: set[str], until: datetime | None,
    convert: Convert,
) -> Verdict:
    """The conditions over the deposits not `excluded`, counting only what happened by
    `until` (None: everything)."""
    deadline = ev.registered_at + timedelta(days=rules.within_days)

    def by(at: datetime) -> bool:
        return until is None or at <= until

    active = sorted(
        (d for d in ev.deposits
         if d.counted() and d.transaction_id not in excluded and d.at and by(d.at)),
        key=lambda d: (d.at, d.transaction_id),
    )
    met: list[tuple[datetime, str]] = []
    missing: str | None = None
    if rules.min_first_deposit is not None:
        first = active[0] if active else None
        amount = None if first is None else convert(
            first.amount or Decimal(0), first.currency or "", currency, first.at.date())  # type: ignore[union-attr]
        if first is None or amount is None or amount < rules.min_first_deposit:
            missing = missing or "ftd_below_minimum"
        else:
            met.append((first.at, first.event_id or first.transaction_id))  # type: ignore[arg-type]
    if rules.min_total_deposits is not None:
        hit = _crossing(
            ((d.at, d.event_id or d.transaction_id, d.amount, d.currency or "")
             for d in active if d.at and d.amount is not None),
            rules.min_total_deposits, currency, convert)
        if hit is None:
            missing = missing or "deposits_below_minimum"
        else:
            met.append(hit)
    if rules.kyc_verified:
        if ev.kyc is None or not by(ev.kyc[0]):
            missing = missing or "kyc_missing"
        else:
            met.append(ev.kyc)
    wagering_met: datetime | None = None
    if rules.min_wagering is not None:
        hit = _crossing(
            ((w.at, w.event_id, w.stake, w.currency) for w in ev.wagers if by(w.at)),
            rules.min_wagering, currency, convert)
        if hit is None:
            missing = missing or "wagering_below_minimum"
        else:
            met.append(hit)
            wagering_met = hit[0]
    if missing is not None:
        return Verdict("pending", reason=missing, wagering_met_at=wagering_met)
    if any(at > deadline for at, _ in met):
        return Verdict("pending", reason="outside_window", wagering_met_at=wagering_met)
    at = max((m[0] for m in met), default=ev.registered_at)
    caused = list(dict.fromkeys(event_id for _, event_id in met))
    return Verdict("qualified", at, None, caused, wagering_met_at=wagering_met)


def evaluate(rules: CpaTerms, currency: str, ev: Evidence, convert: Convert) -> Verdict:
    """The qualification (module docstring)."""
    excluded: set[str] = set()
    while True:
        verdict = conditions(rules, currency, ev, excluded, None, convert)
        if verdict.status != "qualified" or verdict.qualified_at is None:
            return verdict
        qualified_at = verdict.qualified_at
        early = {
            d.transaction_id for d in ev.deposits
            if d.transaction_id not in excluded and (r := d.reversal()) and r[0] <= qualified_at
        }
        if not early:
            break
        excluded |= early
    if rules.clawback_days is None:
        return verdict
    end = qualified_at + timedelta(days=rules.clawback_days)
    reversals = sorted(
        (r, d.transaction_id) for d in ev.deposits
        if d.transaction_id not in excluded and (r := d.reversal()) and qualified_at < r[0] <= end
    )
    gone = set(excluded)
    for (at, reason, event_id), txn in reversals:
        gone.add(txn)
        if conditions(rules, currency, ev, gone, at, convert).status != "qualified":
            return Verdict("reversed", qualified_at, reason, [event_id], reversed_at=at,
                           wagering_met_at=verdict.wagering_met_at)
    return verdict
