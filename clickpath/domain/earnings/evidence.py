"""The evidence a CPA qualification is evaluated on: deposits and real-money wagers with their
real event times (the money rows hold local wall-clock times, state.py).

Kept in two ledger rows, `Q|d` (deposits by transaction id) and `Q|w` (wagers in time order),
and bounded so that they do not grow with the player's history:
- only what happened within the window after registration (the plan's `within_days`, else
  `EarningsPolicy.evidence_days`) is kept once the registration is known;
- a deposit already kept is always updated (its status, a chargeback), whenever that comes;
- wagers only while the plan needs them: none under a plan without a wagering minimum, none
  later than the moment the minimum was reached (`EarningsState.wagering_met_at`), and, while
  no plan is known yet (before the tag), at most `max_wagers_kept`. So a re-tag to a plan with
  a wagering minimum counts the wagers kept until then: the earliest ones.

Every update is idempotent (minimum times, a flag that only turns on), so a record seen twice,
or records in any order, leave the same evidence.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from clickpath.contracts.models import Chargeback, Deposit, Wager
from clickpath.domain.earnings.state import Convert, EarningsPolicy, EarningsState
from clickpath.domain.ledger import Ledger
from clickpath.domain.ledger_rows import evidence_row, payment_row
from clickpath.domain.payments import Payment
from clickpath.domain.plans import CpaTerms

DEPOSITS = evidence_row("d")
WAGERS = evidence_row("w")
REVERSING = ("refunded", "cancelled")


class DepositSeen(BaseModel):
    """One deposit as qualification sees it (times are real event times)."""

    transaction_id: str
    event_id: str | None = None  # its earliest event
    at: datetime | None = None  # its earliest event time: when it was made
    amount: Decimal | None = None
    currency: str | None = None
    status: str | None = None  # the payment's current status (domain/payments.py)
    status_at: datetime | None = None
    status_event_id: str | None = None
    approved_seen: bool = False  # some event said approved: it counted at some point
    chargeback_at: datetime | None = None
    chargeback_event_id: str | None = None

    def counted(self) -> bool:
        """It was approved (and may have been reversed since: see `reversal`)."""
        return self.approved_seen and self.at is not None and self.amount is not None and (
            self.status == "approved" or self.status in REVERSING
        )

    def reversal(self) -> tuple[datetime, str, str] | None:
        """(time, reason, event id) of the earliest thing that took it back, if any."""
        found: list[tuple[datetime, str, str]] = []
        if self.chargeback_at is not None and self.chargeback_event_id is not None:
            found.append((self.chargeback_at, "chargeback", self.chargeback_event_id))
        if self.status in REVERSING and self.status_at is not None and self.status_event_id:
            found.append((self.status_at, "deposit_reversed", self.status_event_id))
        return min(found) if found else None


class WagerSeen(BaseModel):
    at: datetime
    stake: Decimal
    currency: str
    event_id: str

    def order_key(self) -> tuple[datetime, str]:
        return (self.at, self.event_id)


def deposits(ledger: Ledger) -> dict[str, DepositSeen]:
    stored = ledger.get(DEPOSITS) or {"deposits": {}}
    return {txn: DepositSeen.model_validate(d) for txn, d in stored["deposits"].items()}


def wagers(ledger: Ledger) -> list[WagerSeen]:
    stored = ledger.get(WAGERS) or {"wagers": []}
    return [WagerSeen.model_validate(w) for w in stored["wagers"]]


def _put_deposits(ledger: Ledger, seen: dict[str, DepositSeen]) -> None:
    ledger.put(DEPOSITS, {"deposits": {t: d.model_dump(mode="json") for t, d in seen.items()}})


def window_days(policy: EarningsPolicy, rules: CpaTerms | None) -> int:
    return rules.within_days if rules is not None else policy.evidence_days


def _outside(state: EarningsState, at: datetime, days: int) -> bool:
    return state.registered_at is not None and at > state.registered_at + timedelta(days=days)


def note_deposit(
    ledger: Ledger, state: EarningsState, event: Deposit, days: int
) -> bool:
    """Keep what `event` says of its deposit (after apply_money wrote its payment row);
    whether the evidence changed. Reads `T|d|` and `Q|d`, writes `Q|d`."""
    seen = deposits(ledger)
    entry = seen.get(event.transaction_id)
    if entry is None and _outside(state, event.occurred_at, days):
        return False
    stored = ledger.get(payment_row("deposit", event.transaction_id))
    payment = Payment.model_validate(stored) if stored else None
    old = entry or DepositSeen(transaction_id=event.transaction_id)
    new = old.model_copy()
    if new.at is None or event.occurred_at < new.at:
        new.at, new.event_id = event.occurred_at, event.event_id
    if (event.status or "approved") == "approved":
        new.approved_seen = True
    if payment is not None:
        new.amount, new.currency, new.status = payment.amount, payment.currency, payment.status
        if payment.status_event_id == event.event_id:
            new.status_at, new.status_event_id = event.occurred_at, event.event_id
    if new == old and entry is not None:
        return False
    seen[event.transaction_id] = new
    _put_deposits(ledger, seen)
    return True


def note_chargeback(ledger: Ledger, state: EarningsState, event: Chargeback, days: int) -> bool:
    """Mark the deposit charged back (kept even before its deposit arrives, unless outside the
    window); whether the evidence changed. Reads and writes `Q|d`."""
    seen = deposits(ledger)
    entry = seen.get(event.transaction_id)
    if entry is None and _outside(state, event.occurred_at, days):
        return False
    old = entry or DepositSeen(transaction_id=event.transaction_id)
    if old.chargeback_at is not None and old.chargeback_at <= event.occurred_at:
        return False
    seen[event.transaction_id] = old.model_copy(
        update={"chargeback_at": event.occurred_at, "chargeback_event_id": event.event_id}
    )
    _put_deposits(ledger, seen)
    return True


def note_wager(
    ledger: Ledger,
    state: EarningsState,
    event: Wager,
    policy: EarningsPolicy,
    rules: CpaTerms | None,
    plan_known: bool,
    currency: str | None,
    convert: Convert,
) -> bool:
    """Keep a real-money wager if the plan may need it (module docstring); whether the evidence
    changed. Reads and writes `Q|w` only when it is kept."""
    if event.stake <= 0 or _outside(state, event.occurred_at, window_days(policy, rules)):
        return False
    needed = None if rules is None else rules.min_wagering
    if plan_known and needed is None:
        return False
    if state.wagering_met_at is not None and event.occurred_at > state.wagering_met_at:
        return False
    kept = wagers(ledger)
    new = WagerSeen(at=event.occurred_at, stake=event.stake, currency=event.currency,
                    event_id=event.event_id)
    kept = sorted([*kept, new], key=WagerSeen.order_key)
    if needed is not None and currency is not None:
        kept = kept[: _crossing_index(kept, needed, currency, convert) + 1]
    else:
        kept = kept[: policy.max_wagers_kept]
    if new not in kept:
        return False
    ledger.put(WAGERS, {"wagers": [w.model_dump(mode="json") for w in kept]})
    return True


def _crossing_index(kept: list[WagerSeen], needed: Decimal, currency: str, convert: Convert) -> int:
    """The index of the wager that brings the stakes to `needed` (the last one if none does)."""
    total = Decimal(0)
    for i, wager in enumerate(kept):
        total += convert(wager.stake, wager.currency, currency, wager.at.date()) or Decimal(0)
        if total >= needed:
            return i
    return len(kept) - 1

