"""Closing a period and paying it: pure decisions, no I/O, no clock of their own.

A period closes once, for every affiliate, at a moment of the ClickHouse clock (`closed_at`):
its statement is then the entries that reached the ledger table by that moment, frozen. An
entry of a closed period that reaches it later is **late**: it is paid in the first period
after it that was still open when it arrived (`late_windows`), so nothing closed changes and
nothing is lost. The close decides each statement row's fate:

- a total under the affiliate's minimum payout, or below zero, **rolls over**: an entry of
  `-total` in the closed period (its total becomes 0, status `under_minimum`) and one of
  `+total` in the next period, both kind `roll_over`, component `payout`;
- a positive total gets the next invoice number (gapless, in affiliate and currency order);
- status `closed`, or `on_hold` while a fraud hold applies to the affiliate (read time), and
  `paid` once a payment is recorded.

Roll-over entry ids are digests of (period, affiliate, currency, direction), so a close that
is done again after an interruption writes the same entries, which the ledger counts once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from clickpath.contracts.models import LedgerEntry
from clickpath.domain.commissions.statements import StatementRow
from clickpath.domain.plans.periods import next_period, parse_period, period_bounds

STATUS_OPEN = "open"
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


def late_windows(period: str, closes: Mapping[str, datetime]) -> list[tuple[str, datetime]]:
    """The earlier periods whose late entries `period` pays, each with the moment after which
    one of its entries is late for every period between: an entry of closed period p that
    arrived after the closes of p, p+1, ..., `period`-1 lands in `period`. Only the unbroken run
    of closed periods just before `period` qualifies; an open period stops it (it pays its own)."""
    windows: list[tuple[str, datetime]] = []
    latest: datetime | None = None
    p = previous_period(period)
    while p in closes:
        latest = closes[p] if latest is None else max(latest, closes[p])
        windows.append((p, latest))
        p = previous_period(p)
    return windows


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
    """The pair that moves `amount` out of the closed row's period into the next one."""
    out_period, in_period = row.period, next_period(row.period)

    def entry(period: str, value: Decimal, reason: str) -> LedgerEntry:
        return LedgerEntry(
            entry_id=_digest("roll_over", row.affiliate_id, row.period, row.currency, reason),
            affiliate_id=row.affiliate_id, period=period, kind="roll_over", component="payout",
            amount=value, currency=row.currency, original_amount=value,
            original_currency=row.currency, fx_rate=Decimal(1), plan_id="", plan_version=0,
            caused_by=[close_id], reason=reason, occurred_at=closed_at, recorded_at=closed_at,
        )

    return entry(out_period, -amount, ROLL_OUT), entry(in_period, amount, ROLL_IN)


def decide_close(
    rows: Sequence[StatementRow],
    own_roll_out: Mapping[tuple[str, str], Decimal],
    min_payouts: Mapping[str, Decimal | None],
    first_seq: int,
    close_id: str,
    closed_at: datetime,
) -> tuple[list[ClosedRow], list[LedgerEntry]]:
    """Each row's fate at the close (module docstring), and the roll-over entries to write.

    `own_roll_out` is what this period's own roll-over entries already take out, per
    (affiliate, currency): written by an interrupted close of the same period, they are
    in `rows` already and are left out of the judgement, so doing the close again decides the
    same. Invoice numbers are given in the rows' order from `first_seq`, without gaps."""
    closed: list[ClosedRow] = []
    entries: list[LedgerEntry] = []
    seq = first_seq
    for row in sorted(rows, key=lambda r: (r.affiliate_id, r.currency)):
        held_back = own_roll_out.get((row.affiliate_id, row.currency), Decimal(0))
        base = row.total - held_back  # held_back is <= 0: the total before any roll-over
        minimum = min_payouts.get(row.affiliate_id)
        if base < 0 or (minimum is not None and base < minimum and base != 0):
            out, into = roll_over_entries(row, base, close_id, closed_at)
            entries += [out, into]
            frozen = row.model_copy(update={
                "roll_over": row.roll_over - held_back - base, "total": Decimal(0),
                "entries": row.entries + (0 if held_back else 1),
            })
            closed.append(ClosedRow(frozen, STATUS_UNDER_MINIMUM, None, base))
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
