"""Deposits and withdrawals through their statuses, and the FTD among the approved deposits.

A payment is one `transaction_id`; every event about it moves its status (pending, approved,
declined, cancelled, refunded; absent means approved). Events may come in any order and more
than once, so the status is the one of the newest event by event time (ties: the later status
in `STATUS_RANK`), and the payment's time is its earliest event time: the same answer whatever
the order. (Two events with the same time and status but different amounts contradict each
other: the first one read stands, the second is a duplicate.) Only an approved deposit counts,
on the day it was made; a refund or cancellation takes it back out (a chargeback does not:
see day_value.py).

The FTD is the earliest approved deposit. When it stops counting, the next one is found from
the days' FTD-candidate chunks: every deposit approved on a day is appended to that day's
candidates in chunks of `CHUNK` (so an approval rewrites at most one small row), and a search
reads days in order until one holds a deposit that still counts.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from clickpath.contracts.models import Deposit, PaymentStatus, Withdrawal
from clickpath.domain.day_value import DayBook, day_totals
from clickpath.domain.ledger import Ledger
from clickpath.domain.ledger_rows import DAY_INDEX, candidates_row, day_of_row, day_row, payment_row

STATUS_RANK = {"pending": 0, "approved": 1, "declined": 2, "cancelled": 3, "refunded": 4}
CHUNK = 8


class Payment(BaseModel):
    """A payment's row: its status and where it counts."""

    kind: Literal["deposit", "withdrawal"]
    transaction_id: str
    status: PaymentStatus
    status_at: datetime
    status_event_id: str
    at: datetime  # the earliest event time seen: when the payment was made
    amount: Decimal
    currency: str
    first_event_id: str

    @property
    def day(self) -> date:
        return self.at.date()

    def counts(self) -> bool:
        return self.status == "approved"

    def order_key(self) -> tuple[datetime, str]:
        return (self.at, self.transaction_id)


def moved(existing: Payment | None, event: Deposit | Withdrawal) -> Payment | None:
    """The payment after `event`, or None when it changes nothing (a duplicate, or an older
    status that the newer one already replaced, with no earlier time)."""
    status = event.status or "approved"
    if existing is None:
        return Payment(
            kind=event.event_type, transaction_id=event.transaction_id, status=status,
            status_at=event.occurred_at, status_event_id=event.event_id, at=event.occurred_at,
            amount=event.amount, currency=event.currency, first_event_id=event.event_id,
        )
    mine = (event.occurred_at, STATUS_RANK[status])
    theirs = (existing.status_at, STATUS_RANK[existing.status])
    update: dict[str, object] = {}
    if mine > theirs:  # the newest event decides the status and the amount
        update.update(status=status, status_at=event.occurred_at, status_event_id=event.event_id,
                      amount=event.amount, currency=event.currency)
    if event.occurred_at < existing.at:
        update.update(at=event.occurred_at, first_event_id=event.event_id)
    return existing.model_copy(update=update) if update else None


def _contribution(payment: Payment | None) -> dict[str, int | Decimal]:
    if payment is None:
        return {}
    if payment.kind == "deposit" and payment.counts():
        return {"deposits": 1, "deposit_sum": payment.amount}
    if payment.kind == "deposit" and payment.status == "declined":
        return {"declined_deposits": 1}
    if payment.kind == "withdrawal" and payment.counts():
        return {"withdrawals": 1, "withdrawal_sum": payment.amount}
    return {}


def count_payment(
    book: DayBook, before: Payment | None, after: Payment, candidate: bool = False
) -> set[tuple[date, str]]:
    """Move the payment's contribution to the day totals from `before` to `after`; the
    (day, currency) keys whose totals changed. `candidate`: `after` was just appended to its
    day's FTD candidates, which the same write counts."""
    old, new = _contribution(before), _contribution(after)
    if candidate:
        new = {**new, "approved_ever": 1}
    same_place = before is not None and (before.day, before.currency) == (after.day, after.currency)
    if old == new and same_place:
        return set()
    touched = set()
    if before is not None and old:
        book.add(before.day, before.currency, **{k: -v for k, v in old.items()})
        touched.add((before.day, before.currency))
    if new:
        book.add(after.day, after.currency, **new)
        touched.add((after.day, after.currency))
    return touched


def remember_candidate(ledger: Ledger, payment: Payment) -> None:
    """Append an approved deposit to its day's FTD candidates (the caller counts it in the
    day's `approved_ever`, with `count_payment(..., candidate=True)`)."""
    stored = ledger.get(day_row(payment.day, payment.currency)) or {}
    row = candidates_row(payment.day, payment.currency, stored.get("approved_ever", 0) // CHUNK)
    chunk = ledger.get(row) or {"txns": []}
    ledger.put(row, {"txns": [*chunk["txns"], payment.transaction_id]})


def earliest_approved_deposit(ledger: Ledger) -> Payment | None:
    """The earliest deposit that counts, searching day by day."""
    index = ledger.get(DAY_INDEX) or {"days": []}
    by_day: dict[date, list[str]] = {}
    for row in index["days"]:
        day, currency = day_of_row(row)
        by_day.setdefault(day, []).append(currency)
    for day in sorted(by_day):
        found: list[Payment] = []
        for currency in by_day[day]:
            totals = day_totals(ledger, day, currency)
            if not totals.deposits:
                continue
            for chunk in range((totals.approved_ever + CHUNK - 1) // CHUNK):
                for txn in (ledger.get(candidates_row(day, currency, chunk)) or {"txns": []})["txns"]:
                    stored = ledger.get(payment_row("deposit", txn))
                    payment = Payment.model_validate(stored) if stored else None
                    if payment is not None and payment.counts() and payment.day == day:
                        found.append(payment)
        if found:
            return min(found, key=Payment.order_key)
    return None


def ever_approved_deposits(ledger: Ledger) -> list[str]:
    """Every deposit ever approved (whatever it is now), in day order, from the days' FTD
    candidates: the deposits a conversion may have been reported for."""
    index = ledger.get(DAY_INDEX) or {"days": []}
    found: list[str] = []
    for day, currency in sorted(day_of_row(row) for row in index["days"]):
        totals = day_totals(ledger, day, currency)
        for chunk in range((totals.approved_ever + CHUNK - 1) // CHUNK):
            found += (ledger.get(candidates_row(day, currency, chunk)) or {"txns": []})["txns"]
    return found
