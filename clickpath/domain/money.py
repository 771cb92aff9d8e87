"""The money events of a player (deposits, withdrawals, chargebacks, wagers, bonuses) applied
to the player's ledger: what each changes, and which day facts it touches.

Each has a natural key kept in a ledger row for the player's life, so a duplicate with a new
event id still counts once: a payment's `transaction_id` (its row also holds its status,
domain/payments.py), a chargeback's `chargeback_id`, a wager's `wager_id`, a bonus's
`bonus_id` and action. Rows are written only once every duplicate check has passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from clickpath.contracts.models import Bonus, Chargeback, Deposit, Wager, Withdrawal
from clickpath.domain.day_value import DayBook
from clickpath.domain.ledger_rows import bonus_row, chargeback_row, payment_row, wager_row
from clickpath.domain.payments import (
    Payment,
    count_payment,
    earliest_approved_deposit,
    moved,
    remember_candidate,
)

FactKey = tuple[date, str]
MoneyEvent = Deposit | Withdrawal | Chargeback | Wager | Bonus


class DepositRef(BaseModel):
    """The player's first approved deposit (the FTD), as postbacks and facts need it."""

    event_id: str
    transaction_id: str
    occurred_at: datetime
    amount: Decimal
    currency: str

    def order_key(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.transaction_id)

    @property
    def key(self) -> FactKey:
        return (self.occurred_at.date(), self.currency)


@dataclass
class Applied:
    """What a money event did: `changed` False means a duplicate (nothing written)."""

    changed: bool
    first_deposit: DepositRef | None
    touched: set[FactKey] = field(default_factory=set)
    is_ftd: bool = False


def apply_money(
    book: DayBook, first: DepositRef | None, event: MoneyEvent, *, track_first: bool = True
) -> Applied:
    """Apply one money event. `track_first` False: the FTD is not followed (no candidate rows,
    no search; `Applied.first_deposit` stays `first`), for a reader that takes it from the
    player stage's profile."""
    ledger = book.ledger
    if isinstance(event, Deposit | Withdrawal):
        return _apply_payment(book, first, event, track_first)
    natural, deltas = _natural_key_and_deltas(event)
    if ledger.get(natural) is not None:
        return Applied(False, first)
    ledger.put(natural, {"event_id": event.event_id})
    if not deltas:
        return Applied(True, first)
    day = event.occurred_at.date()
    book.add(day, event.currency, **deltas)
    return Applied(True, first, {(day, event.currency)})


def _natural_key_and_deltas(
    event: Chargeback | Wager | Bonus,
) -> tuple[str, dict[str, int | Decimal]]:
    """The ledger row that makes the event count once, and what it adds to its day."""
    if isinstance(event, Chargeback):
        return chargeback_row(event.chargeback_id), {"chargebacks": 1, "chargeback_sum": event.amount}
    if isinstance(event, Wager):
        return wager_row(event.wager_id), {
            "stakes": event.stake, "wins": event.win, "bonus_stakes": event.bonus_stake,
        }
    converted = event.action == "converted"
    return bonus_row(event.bonus_id, event.action), {"bonus_cost": event.amount} if converted else {}


def _ref(payment: Payment) -> DepositRef:
    return DepositRef(
        event_id=payment.first_event_id, transaction_id=payment.transaction_id,
        occurred_at=payment.at, amount=payment.amount, currency=payment.currency,
    )


def _apply_payment(
    book: DayBook, first: DepositRef | None, event: Deposit | Withdrawal, track_first: bool = True
) -> Applied:
    ledger = book.ledger
    row = payment_row(event.event_type, event.transaction_id)
    stored = ledger.get(row)
    before = Payment.model_validate(stored) if stored else None
    after = moved(before, event)
    if after is None:
        return Applied(False, first)
    ledger.put(row, after.model_dump(mode="json"))
    place = (after.day, after.currency)
    candidate = track_first and after.kind == "deposit" and after.counts() and (
        before is None or not before.counts() or (before.day, before.currency) != place
    )
    if candidate:
        remember_candidate(ledger, after)
    touched = count_payment(book, before, after, candidate)
    if after.kind != "deposit" or not track_first:
        return Applied(True, first, touched)
    new_first = first
    if first is not None and first.transaction_id == after.transaction_id:
        if after.counts() and (before is None or after.order_key() <= before.order_key()):
            new_first = _ref(after)  # still the earliest: its amount or time may have moved
        else:
            found = earliest_approved_deposit(ledger)  # the FTD stopped counting or moved later
            new_first = _ref(found) if found else None
    elif after.counts() and (first is None or after.order_key() < first.order_key()):
        new_first = _ref(after)
    if new_first != first:
        touched |= {ref.key for ref in (first, new_first) if ref is not None}
    is_ftd = new_first is not None and new_first != first and (
        new_first.transaction_id == after.transaction_id
    )
    return Applied(True, new_first, touched, is_ftd)
