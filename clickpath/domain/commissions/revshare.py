"""RevShare per (period, payout currency), negative carry-over, and the parent's share.

The period's plan is the affiliate-level one in effect on the period's first day (no brand or
country override: the commission is on the whole period's NGR). Each player's NGR is the plan
formula on their lines, in the plan's currency at the rate of the period's first day; the
period row keeps the sums, each player row what the sums count of it, so a newer value, a
hold or a release moves the sums by a difference. The commission (flat, tiered: the band
reached prices the whole NGR, ladder: each band's rate on its slice; below the first band's
`from` its rate applies, negative NGR included) is converted to the payout currency at the
same rate and rounded; the RevShare entries are its differences.

Carry-over runs over the periods with RevShare activity, ascending: each brings in what the
one before carried out (a `carry_over` entry of -X) and, when its RevShare plus that is
negative, carries the negative out (+X; the period totals 0). A period under a plan without
negative carry-over pays max(0, commission), but a carry that reaches it travels on until a
positive commission absorbs it. The chain is re-evaluated forward whenever a period moves; a
period with no activity yet is not in the chain: the carry is brought into the next period
that has some, with its first record.
"""

from __future__ import annotations

from decimal import Decimal

from clickpath.contracts.models.commissions import EntryKind, PlayerPeriodValue
from clickpath.domain.commissions.policy import is_period, payout
from clickpath.domain.commissions.run import Run
from clickpath.domain.commissions.state import (
    ZERO,
    CpaPeriodRow,
    PeriodRow,
    PlayerRow,
    TotalsRow,
    ValueRow,
    cpa_period_key,
    period_key,
    player_key,
    totals_key,
    value_key,
)
from clickpath.domain.plans import PlanVersion, RevShareTerms, first_day

# The scale a player's converted NGR is kept at: sums of such numbers are exact in Decimal.
SUM_SCALE = Decimal("0.0000000001")


def apply_value(run: Run, record: PlayerPeriodValue) -> bool:
    """Apply a period value newer than the player's row; False for a duplicate."""
    key = value_key(record.person_id, record.period, record.currency)
    if not is_period(record.period):
        return False  # not a calendar month: nothing it could be priced in
    row = run.row(key, ValueRow)
    if record.version <= row.version:
        return False
    update = record.model_dump(include=set(ValueRow.model_fields) - {"sent", "sent_at"})
    for name, value in update.items():
        setattr(row, name, value)
    player = run.row(player_key(record.person_id), PlayerRow)
    if key not in player.values:
        player.values.append(key)
    recount(run, record.person_id, key)
    return True


def recount(run: Run, person_id: str, key: str) -> None:
    """Move the period's sums by the difference between what the player's row counts now and
    what they counted: nothing while a fraud flag holds or clawed back the player."""
    row = run.row(key, ValueRow)
    _, _, period, currency = key.split("|")
    plan = run.policy.revshare_plan(run.affiliate_id, period)
    ngr, ftds, active, unpriced = ZERO, 0, 0, False
    fraud, _ = run.row(player_key(person_id), PlayerRow).fraud()
    if plan is not None and plan.revshare is not None and fraud == "clear":
        terms = plan.revshare
        rate = run.policy.rate(currency, plan.currency, first_day(period))
        unpriced = rate is None
        ngr = ZERO if rate is None else (rate * terms.ngr.ngr(
            row.stakes, row.wins, row.bonus_cost, row.chargeback_sum, row.deposit_sum,
            row.withdrawal_sum,
        )).quantize(SUM_SCALE)  # so the period's sums stay exact, whatever the order
        ftds, active = row.ftds, int(row.real_wagers >= terms.active_min_wagers)
    sums = _period(run, period)
    sums.ngr += ngr - row.counted_ngr
    sums.ftds += ftds - row.counted_ftds
    sums.active += active - row.counted_active
    row.counted_ngr, row.counted_ftds, row.counted_active = ngr, ftds, active
    row.unpriced = unpriced
    run.revshare_periods.add(period)


def _period(run: Run, period: str) -> PeriodRow:
    """The period's row; a new one joins the carry-over chain."""
    if period not in run.state.periods:
        run.state.periods = sorted([*run.state.periods, period])
    return run.row(period_key(period, run.currency), PeriodRow)


def band_index(terms: RevShareTerms, metric: Decimal) -> int:
    """The band reached: the last whose `from` the metric reaches (the first one below it)."""
    reached = [i for i, band in enumerate(terms.bands) if metric >= band.from_]
    return reached[-1] if reached else 0


def commission(terms: RevShareTerms, ngr: Decimal, metric: Decimal) -> tuple[Decimal, int | None]:
    """The period's commission in the plan's currency, exact, and the band that priced it."""
    if terms.mode == "flat" or not terms.bands:
        return ngr * (terms.rate or ZERO), None
    if terms.mode == "tiered":
        index = band_index(terms, metric)
        return ngr * terms.bands[index].rate, index
    total = ZERO  # ladder: each band's rate on its slice of NGR
    for i, band in enumerate(terms.bands):
        top = terms.bands[i + 1].from_ if i + 1 < len(terms.bands) else None
        upper = ngr if top is None else min(ngr, top)
        if i == 0:
            total += band.rate * upper  # the first band reaches down, negative NGR included
        elif upper > band.from_:
            total += band.rate * (upper - band.from_)
    return total, band_index(terms, ngr)


def _metric(run: Run, period: str, terms: RevShareTerms, sums: PeriodRow) -> Decimal:
    if terms.threshold_on == "ftds":
        return Decimal(sums.ftds)
    if terms.threshold_on == "active":
        return Decimal(sums.active)
    if terms.threshold_on == "qualified":
        return Decimal(run.row(cpa_period_key(period), CpaPeriodRow).qualified())
    return sums.ngr


def evaluate_period(run: Run, period: str) -> None:
    """Write the difference between the period's RevShare due now and its entries' sum."""
    if period not in run.state.periods:
        return  # no RevShare activity in it (a qualification moved a count): nothing due
    sums = _period(run, period)
    plan = run.policy.revshare_plan(run.affiliate_id, period)
    if plan is None or plan.revshare is None:
        exact, band, rate, currency = ZERO, None, Decimal(1), run.currency
    else:
        terms = plan.revshare
        found = run.policy.rate(plan.currency, run.currency, first_day(period))
        if found is None:
            return  # no rate in effect: nothing is priced until one is
        exact, band = commission(terms, sums.ngr, _metric(run, period, terms, sums))
        rate, currency = found, plan.currency
        if not terms.negative_carry_over:
            exact = max(ZERO, exact)  # without carry-over a negative commission pays 0
    due = payout(exact * rate, run.currency)
    diff = due - sums.revshare
    if diff != 0:
        kind: EntryKind = "adjustment" if sums.accrued else "accrual"
        if diff < 0 and (
            run.cause.value_cause == "chargeback" or run.cause.reason == "fraud_clawback"
        ):
            kind = "clawback"
        reason = run.cause.reason
        if reason is None and sums.accrued and band != sums.band:
            reason = "tier"
        run.entry(
            period=period, kind=kind, component="revshare", amount=diff,
            original_amount=exact - sums.revshare_original, original_currency=currency,
            fx_rate=rate, plan=_plan_ref(plan), reason=reason,
        )
        sums.revshare, sums.revshare_original, sums.accrued = due, exact, True
    sums.band = band


def _plan_ref(plan: PlanVersion | None) -> tuple[str, int]:
    return (plan.plan_id, plan.version) if plan is not None else ("", 0)


def carry_forward(run: Run, start: str) -> None:
    """Re-evaluate the carry-over chain from `start` on (see the module docstring)."""
    periods = [p for p in run.state.periods if p >= start]
    earlier = [p for p in run.state.periods if p < start]
    carry = ZERO
    if earlier:
        carry = -run.row(period_key(earlier[-1], run.currency), PeriodRow).carry_out
    for period in periods:
        sums = run.row(period_key(period, run.currency), PeriodRow)
        plan = _plan_ref(run.policy.revshare_plan(run.affiliate_id, period))
        _carry_entry(run, period, plan, carry - sums.carry_in)
        sums.carry_in = carry
        total = sums.revshare + carry
        out = -total if total < 0 else ZERO
        _carry_entry(run, period, plan, out - sums.carry_out)
        sums.carry_out = out
        carry = -out


def _carry_entry(run: Run, period: str, plan: tuple[str, int], amount: Decimal) -> None:
    if amount != 0:
        run.entry(
            period=period, kind="carry_over", component="revshare", amount=amount,
            original_amount=amount, original_currency=run.currency, fx_rate=Decimal(1),
            plan=plan, reason="carry_over",
        )


def sub_affiliate(run: Run, period: str) -> None:
    """The parent's share of the difference in this affiliate's own commission for the
    period (one level: a parent's share is not shared again), in the parent's currency."""
    parent = run.policy.parent_of(run.affiliate_id)
    if parent is None:
        return
    totals = run.row(totals_key(period, run.currency), TotalsRow)
    plan = run.policy.plans.plan_for(parent, None, None, first_day(period))
    share = plan.sub_affiliate_share if plan is not None else None
    currency = run.policy.payout_currency(parent)
    rate = run.policy.rate(run.currency, currency, first_day(period))
    if rate is None:
        return
    exact = totals.own * (share or ZERO)
    due = payout(exact * rate, currency)
    diff = due - totals.sub
    if diff == 0:
        return
    run.entry(
        period=period, kind="adjustment" if totals.sub_accrued else "accrual",
        component="sub_affiliate", amount=diff, original_amount=exact - totals.sub_original,
        original_currency=run.currency, fx_rate=rate, plan=_plan_ref(plan),
        reason=run.cause.reason, affiliate_id=parent, currency=currency,
    )
    totals.sub, totals.sub_original, totals.sub_accrued = due, exact, True
