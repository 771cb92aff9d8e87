"""Closing a period and paying it: pure decisions, no I/O, no clock of their own.

A period closes once, for every affiliate: the close takes in the entries its period pays
that reached the ledger by then (their ids, kept with the close), and its statement is those,
frozen. An entry of a closed period that no close took in is **late**: it is paid in the first
period after it still open (`pay_chain`), so nothing closed changes and nothing is lost. The
close decides each statement row's fate:

- a total under the affiliate's minimum payout, or below zero, **rolls over**: an entry of
  `-total` in the closed period (its total becomes 0, status `under_minimum`) and one of
  `+total` in the next period, both kind `roll_over`, component `payout`;
- a positive total gets the next invoice number (gapless, in affiliate and currency order);
- status `closed`, or `on_hold` while a fraud hold applies to the affiliate (read time), and
  `paid` once a payment is recorded.

Roll-over entry ids are digests of (close, affiliate, currency, direction); they count only
once their close completed, so a close that stopped half way leaves nothing that counts and
the next attempt decides afresh.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from clickpath.contracts.models import LedgerEntry
from clickpath.contracts.money import check_currency
from clickpath.domain.catalogue import CATALOGUE_ID_PATTERN
from clickpath.domain.commissions.statements import STATUS_OPEN, StatementRow
from clickpath.domain.plans.periods import next_period, parse_period, period_bounds

STATUS_CLOSED = "closed"
STATUS_ON_HOLD = "on_hold"
STATUS_UNDER_MINIMUM = "under_minimum"
STATUS_PAID = "paid"
STATUSES = (STATUS_OPEN, STATUS_ON_HOLD, STATUS_CLOSED, STATUS_UNDER_MINIMUM, STATUS_PAID)
ROLL_OUT = "rolled_over_out"  # the reason on the closed period's roll-over entry
ROLL_IN = "rolled_over_in"  # ... and on the next period's
REASON_MAX = 200


class CloseRefused(ValueError):
    """An operator action that must not happen (the message says why and what to do);
    `status` is the HTTP status an API answers with."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ClosedRow:
    """One affiliate's statement row of a closed period, as frozen at the close."""

    row: StatementRow
    status: str  # closed | under_minimum (on_hold and paid are decided when read)
    invoice_seq: int | None
    rolled_over: Decimal  # what left for the next period (0: nothing)


def previous_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def close_problem(period: str, now: datetime, zone: ZoneInfo) -> str | None:
    """Why `period` cannot be closed at `now`: it has not ended yet in the commission zone."""
    end = period_bounds(period, zone)[1]
    if now < end:
        return (f"period {period} has not ended: it ends at {end.isoformat()} "
                f"({zone.key}); close it after that")
    return None


def pay_chain(period: str, closed: set[str]) -> list[str]:
    """The periods whose entries an open `period` pays when no close took them in: its own,
    and those of the unbroken run of closed periods just before it (an entry of a closed
    period that its close did not take in is paid in the first period after it still open
    when the next close runs). An open period stops the run: it pays its own."""
    chain = [period]
    p = previous_period(period)
    while p in closed:
        chain.append(p)
        p = previous_period(p)
    return chain


def first_open_period(period: str, closes: Mapping[str, object]) -> str:
    """`period`, or the first period after it that is not closed."""
    while period in closes:
        period = next_period(period)
    return period


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def roll_over_entries(
    row: StatementRow, amount: Decimal, close_id: str, closed_at: datetime
) -> tuple[LedgerEntry, LedgerEntry]:
    """The pair that moves `amount` out of the closed row's period into the next one; their ids
    are the close's own (an attempt that stopped half way wrote entries that count for nothing,
    so its ids must not be the next attempt's)."""
    out_period, in_period = row.period, next_period(row.period)

    def entry(period: str, value: Decimal, reason: str) -> LedgerEntry:
        return LedgerEntry(
            entry_id=_digest("roll_over", close_id, row.affiliate_id, row.currency, reason),
            affiliate_id=row.affiliate_id, period=period, kind="roll_over", component="payout",
            amount=value, currency=row.currency, original_amount=value,
            original_currency=row.currency, fx_rate=Decimal(1), plan_id="", plan_version=0,
            caused_by=[close_id], reason=reason, occurred_at=closed_at, recorded_at=closed_at,
        )

    return entry(out_period, -amount, ROLL_OUT), entry(in_period, amount, ROLL_IN)


def decide_close(
    rows: Sequence[StatementRow],
    min_payouts: Mapping[str, Decimal | None],
    first_seq: int,
    close_id: str,
    closed_at: datetime,
) -> tuple[list[ClosedRow], list[LedgerEntry]]:
    """Each row's fate at the close (module docstring), and the roll-over entries to write.
    Invoice numbers are given in affiliate and currency order from `first_seq`, without gaps."""
    closed: list[ClosedRow] = []
    entries: list[LedgerEntry] = []
    seq = first_seq
    for row in sorted(rows, key=lambda r: (r.affiliate_id, r.currency)):
        minimum = min_payouts.get(row.affiliate_id)
        if row.total < 0 or (minimum is not None and 0 < row.total < minimum):
            out, into = roll_over_entries(row, row.total, close_id, closed_at)
            entries += [out, into]
            frozen = row.model_copy(update={
                "roll_over": row.roll_over - row.total, "total": Decimal(0),
                "entries": row.entries + 1,
            })
            closed.append(ClosedRow(frozen, STATUS_UNDER_MINIMUM, None, row.total))
            continue
        invoice = None
        if row.total > 0:
            invoice, seq = seq, seq + 1
        closed.append(ClosedRow(row, STATUS_CLOSED, invoice, Decimal(0)))
    return closed, entries


def status_now(stored: str, paid: bool, held: bool) -> str:
    """A closed row's status as read: paid, else under_minimum, else on_hold while a fraud
    hold applies to the affiliate, else closed."""
    if paid:
        return STATUS_PAID
    if stored == STATUS_UNDER_MINIMUM:
        return STATUS_UNDER_MINIMUM
    return STATUS_ON_HOLD if held else STATUS_CLOSED


def payment_problem(status: str, total: Decimal, paid_reference: str | None, reference: str) -> str | None:
    """Why a closed row cannot be paid with `reference` (None: it can, or it already was with
    the same reference, which is a no-op)."""
    if status == STATUS_PAID:
        if paid_reference == reference:
            return None
        return f"already paid, reference {paid_reference!r}"
    if status == STATUS_UNDER_MINIMUM:
        return "under the minimum payout: its total rolled over into the next period"
    if status == STATUS_ON_HOLD:
        return "on hold: a fraud hold applies to this affiliate; release it before paying"
    if total <= 0:
        return "nothing to pay: the total is not positive"
    return None


def clean_reason(text: str) -> str:
    """An operator's reason, trimmed; CloseRefused (422) when empty or too long."""
    value = " ".join(text.split())
    if not value:
        raise CloseRefused("reason: say why (it is kept with the entry)", 422)
    if len(value) > REASON_MAX:
        raise CloseRefused(f"reason: at most {REASON_MAX} characters", 422)
    return value


def check_adjustment(affiliate_id: str, amount: Decimal, currency: str) -> None:
    """CloseRefused (422, the field named) for an adjustment the ledger cannot hold exactly:
    the ledger keeps 6 decimal places, and 20 digits leave room to sum (Decimal(38, 6))."""
    if not re.match(CATALOGUE_ID_PATTERN, affiliate_id):
        raise CloseRefused(f"affiliate_id: {affiliate_id[:64]!r} is not an affiliate id", 422)
    if not amount.is_finite() or amount == 0:
        raise CloseRefused("amount: a non-zero amount, e.g. -50.00", 422)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        raise CloseRefused("amount: at most 6 decimal places", 422)
    if abs(amount) >= Decimal(10) ** 14:
        raise CloseRefused("amount: under 100,000,000,000,000 (20 digits with 6 decimals)", 422)
    try:
        check_currency(currency)
    except ValueError as e:
        raise CloseRefused(f"currency: {e}", 422) from None


def adjustment_entry(
    action_id: str, affiliate_id: str, period: str, amount: Decimal, currency: str, reason: str,
    at: datetime,
) -> LedgerEntry:
    """An operator's adjustment: kind `adjustment`, component `manual`, caused by the action
    (whose record says who and when)."""
    return LedgerEntry(
        entry_id=_digest("manual", action_id), affiliate_id=affiliate_id, period=period,
        kind="adjustment", component="manual", amount=amount, currency=currency,
        original_amount=amount, original_currency=currency, fx_rate=Decimal(1), plan_id="",
        plan_version=0, caused_by=[action_id], reason=reason, occurred_at=at, recorded_at=at,
    )
