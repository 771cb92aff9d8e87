"""CPA: what one player's qualification is due, per bucket, and the entries that get there.

A player's CPA is a function of their newest qualification, their fraud flags and their place
under the monthly cap, never of the order records came in:
- `accrual|<P>`, P the period of `qualified_at`: the plan's amount for the player's brand and
  country (plan currency -> payout currency at the rate of the qualified day), or 0 over the
  cap (the N earliest qualified_at of the period, ties by person id, are paid; a player over
  it gets a 0 entry, reason monthly_cap). Every player qualified in P keeps their place under
  the cap whatever happens to their CPA after (a reversal, a flag): no cascade of re-pricing.
- `reversal|<R>`, R the period of a "reversed"/"none" qualification's occurred_at, within the
  plan's clawback_days of qualified_at: minus the accrual (kind clawback, reason the record's).
  After the window the CPA stands. A reversal that carries no qualified_at is placed against
  the qualified_at already stored (earnings sends it when it knows it: order-independent).
- `hold|<P>`: minus what stands while a fraud hold is on (fraud_hold; fraud_release undoes it).
- `fraud|<F>`, F the period of the earliest clawback flag, within clawback_days: minus what
  stands, for good (fraud_clawback).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from clickpath.contracts.models.commissions import EntryKind, PlayerQualification
from clickpath.domain.commissions import notify
from clickpath.domain.commissions.policy import day_of, payout
from clickpath.domain.commissions.run import Run
from clickpath.domain.commissions.state import (
    ZERO,
    CpaPeriodRow,
    PlayerRow,
    QualificationRow,
    cpa_period_key,
    player_key,
    qualification_key,
)
from clickpath.domain.commissions.status import note_status
from clickpath.domain.plans import PlanVersion, cpa_amount_for, period_of

ENDS = ("reversed", "none")


def apply_qualification(run: Run, record: PlayerQualification) -> bool:
    """Apply a qualification newer than the player's row; False for a duplicate."""
    row = run.row(qualification_key(record.person_id), QualificationRow)
    if record.version <= row.version:
        return False
    before = period_of(row.qualified_at, run.policy.time_zone) if row.qualified_at else None
    qualified_at = record.qualified_at
    if qualified_at is None and record.status in ENDS:
        qualified_at = row.qualified_at  # the reversal of the qualification already stored
    row.version = record.version
    row.status = record.status
    row.qualified_at = qualified_at if record.status != "pending" else None
    row.ended_at = record.occurred_at if record.status in ENDS else None
    row.reason = record.reason
    row.plan_id, row.plan_version = record.plan_id, record.plan_version
    row.brand_id, row.country = record.brand_id, record.country
    row.registered_at = record.registered_at or row.registered_at
    row.shares_data = record.shares_data is True  # not known: not shown (models/commissions.py)
    if record.reason != "retag":  # the affiliate the player left keeps its campaign's CPA
        row.campaign_id = record.campaign_id
    row.click_id, row.postback_block = record.click_id, record.postback_block
    row.subs = [record.sub1, record.sub2, record.sub3, record.sub4, record.sub5]
    after = period_of(row.qualified_at, run.policy.time_zone) if row.qualified_at else None
    others: set[str] = set()
    for period in {before, after} - {None}:
        assert period is not None
        others |= _place(run, period, record.person_id, row)
        run.revshare_periods.add(period)  # the qualified count may move a tier
    evaluate(run, record.person_id)
    for person in sorted(others - {record.person_id}):
        evaluate(run, person)
    return True


def _plan(run: Run, row: QualificationRow) -> PlanVersion | None:
    plan = run.policy.cpa_plan(row.plan_id, row.plan_version)
    return plan if plan is not None and plan.cpa is not None else None


def _place(run: Run, period: str, person_id: str, row: QualificationRow) -> set[str]:
    """Put the player in (or take them out of) the period's cap order; the other players whose
    place under the cap changed."""
    cpa = run.row(cpa_period_key(period), CpaPeriodRow)
    paid_before = cpa.paid()
    plan = _plan(run, row)
    inside = (
        row.qualified_at is not None
        and period_of(row.qualified_at, run.policy.time_zone) == period
        and plan is not None
    )
    if inside:
        assert row.qualified_at is not None and plan is not None and plan.cpa is not None
        standing = cpa.players.get(person_id, (row.qualified_at, True, None))[1]
        cpa.players[person_id] = (row.qualified_at, standing, plan.cpa.monthly_cap)
    else:
        cpa.players.pop(person_id, None)
    return paid_before ^ cpa.paid()


def _within(days: int | None, start: datetime, end: datetime) -> bool:
    return days is None or end - start <= timedelta(days=days)


def evaluate(run: Run, person_id: str) -> None:
    """Write the differences between what the player's CPA is due now and what its buckets'
    entries sum to."""
    row = run.row(qualification_key(person_id), QualificationRow)
    plan = _plan(run, row)
    tz = run.policy.time_zone
    due: dict[str, tuple[Decimal, Decimal]] = {}
    paid = True
    rate = Decimal(1)
    cpa_kept = False  # a clawback flag after the plan's window leaves the CPA standing
    pays = ZERO  # what the CPA pays now, in the payout currency
    paid_before = sum((amount for amount, _ in row.written.values()), ZERO)  # what stood written
    if plan is not None and plan.cpa is not None and row.qualified_at is not None:
        terms = plan.cpa
        found = run.policy.rate(plan.currency, run.currency, day_of(row.qualified_at, tz))
        if found is None:
            # no rate in effect: nothing is priced until one is (docs/commissions.md)
            note_status(run, person_id, row, over_cap=False, amount=ZERO, unpriced=True)
            return
        rate = found
        period = period_of(row.qualified_at, tz)
        cpa = run.row(cpa_period_key(period), CpaPeriodRow)
        paid = person_id in cpa.paid()
        original = cpa_amount_for(terms, row.brand_id, row.country) if paid else ZERO
        stands = (payout(original * rate, run.currency), original)
        due[f"accrual|{period}"] = stands
        standing = True  # qualified in the period (the tier count), over the cap or not
        if row.status in ENDS and row.ended_at is not None and _within(
            terms.clawback_days, row.qualified_at, row.ended_at
        ):
            due[f"reversal|{period_of(row.ended_at, tz)}"] = (-stands[0], -stands[1])
            stands, standing = (ZERO, ZERO), False
        fraud, since = run.row(player_key(person_id), PlayerRow).fraud()
        if fraud == "clawed" and since is not None and _within(
            terms.clawback_days, row.qualified_at, since
        ):
            due[f"fraud|{period_of(since, tz)}"] = (-stands[0], -stands[1])
            stands, standing = (ZERO, ZERO), False
        elif fraud == "clawed":
            cpa_kept = True
        elif fraud == "held":
            due[f"hold|{period}"] = (-stands[0], -stands[1])
            stands, standing = (ZERO, ZERO), False
        if person_id in cpa.players:
            at, _, cap = cpa.players[person_id]
            cpa.players[person_id] = (at, standing, cap)
            run.revshare_periods.add(period)  # the qualified count may move a tier
        pays = stands[0]
    cap_moved = row.paid is not None and row.paid != paid
    row.paid = paid if due else None
    _write(run, person_id, row, plan, rate, due, cap_moved)
    note_status(run, person_id, row, over_cap=not paid, amount=pays,
                cpa_kept=cpa_kept)
    # Once, when it starts to pay: not a 0 over the cap, nor a CPA that paid before (a row
    # written before the postback existed is never reported late)
    if pays > 0 and paid_before <= 0 and not row.reported and row.click_id and plan is not None:
        notify.report_cpa(run, person_id, row, plan, pays)


def _write(
    run: Run,
    person_id: str,
    row: QualificationRow,
    plan: PlanVersion | None,
    rate: Decimal,
    due: dict[str, tuple[Decimal, Decimal]],
    cap_moved: bool,
) -> None:
    for bucket in sorted(set(due) | set(row.written)):
        role, period = bucket.split("|", 1)
        amount, original = due.get(bucket, (ZERO, ZERO))
        written, written_original = row.written.get(bucket, (ZERO, ZERO))
        diff = amount - written
        first_zero = role == "accrual" and bucket not in row.written and bucket in due
        if diff == 0 and not first_zero:
            continue
        kind, reason = _kind_and_reason(role, diff, amount, written, row, cap_moved)
        if first_zero and amount == 0:
            reason = "monthly_cap"
        written_plan = (row.plan_id or "", row.plan_version or 0)
        run.entry(
            period=period, kind=kind, component="cpa", amount=diff,
            original_amount=original - written_original,
            original_currency=plan.currency if plan is not None else run.currency,
            fx_rate=rate, plan=(plan.plan_id, plan.version) if plan else written_plan,
            person_id=person_id, reason=reason,
            player=(row.registered_at, row.brand_id or None, row.campaign_id),
        )
        row.written[bucket] = (amount, original)


def _kind_and_reason(
    role: str, diff: Decimal, due: Decimal, written: Decimal, row: QualificationRow,
    cap_moved: bool,
) -> tuple[EntryKind, str | None]:
    """An amount coming or going whole is an accrual or a clawback (statements count them);
    one that changes size is an adjustment; holds are adjustments (they are undone)."""
    if role == "hold":
        return "adjustment", "fraud_hold" if diff < 0 else "fraud_release"
    kind: EntryKind = "adjustment"
    if role == "accrual":
        if written == 0 and diff >= 0:
            kind = "accrual"  # a 0 one too: the player over the cap, recorded as such
        elif due == 0:
            kind = "clawback"
    elif written == 0 and diff < 0:
        kind = "clawback"  # a reversal or fraud clawback of what stood
    elif due == 0:
        kind = "accrual"  # a clawback undone: the CPA stands again
    if role == "fraud":
        return kind, "fraud_clawback"
    if role == "reversal":
        return kind, row.reason or row.status
    if cap_moved:
        return kind, "monthly_cap"
    if diff < 0 and due == 0:
        return kind, row.reason or ("requalified" if row.qualified_at else row.status)
    return kind, None
