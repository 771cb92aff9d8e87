"""Deposit postbacks and reversals (docs/postback-presets.md), and the rows that keep them once.

Each approved deposit of an attributed player other than the one the FTD postback reported is
a `deposit` postback; a deposit behind a sent conversion that is charged back or stops counting
is reversed by a `chargeback` postback. A player's deposits grow with their history, so what
was reported of each is kept in its ledger row `P|<transaction id>`, not in the state
(`DepositReport`).

A chargeback leaves its deposit counted (its payment row does not change), so one that comes
before the deposit's conversion could be sent (before the attribution, or before the deposit
itself) is noted in the `P|` row as `chargeback_at` alone: when the conversion is sent, its
reversal follows at once, the same postback (id, time) as if the chargeback had come after.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, field_serializer

from clickpath.contracts.models import Attribution, Chargeback, Deposit, PlayerEvent
from clickpath.domain.consent import postback_block
from clickpath.domain.ledger import Ledger, Row
from clickpath.domain.ledger_rows import deposit_report_row, payment_row
from clickpath.domain.money import DepositRef
from clickpath.domain.outputs import Output
from clickpath.domain.payments import Payment, ever_approved_deposits
from clickpath.domain.players.outbox import postback, suppressed
from clickpath.domain.players.state import PlayerPolicy, PlayerState, Tag

Told = Literal["sent", "suppressed"]
Reported = Literal["ftd", "deposit", "chargeback"]


class DepositReport(BaseModel):
    """The `P|` row of one deposit: what the affiliate was told of it (no row: nothing yet).

    Stored as the dict the code before this model wrote, with only the keys that were set and
    `chargeback_at` as `datetime.isoformat()`, so rows stored by either read the same."""

    ftd: Told | None = None  # its FTD postback (conversions.py)
    deposit: Told | None = None  # its deposit postback
    chargeback: Told | None = None  # the reversal of the conversion sent for it
    # when it was reversed (the reversal's own time); alone, a chargeback noted before any
    # conversion of the deposit was decided, whose reversal is due once one is sent
    chargeback_at: datetime | None = None

    @field_serializer("chargeback_at")
    def _isoformat(self, at: datetime | None) -> str | None:
        return at.isoformat() if at is not None else None

    @property
    def reported(self) -> bool:
        """The deposit was reported as a conversion (sent or suppressed)."""
        return self.ftd is not None or self.deposit is not None

    @property
    def converted(self) -> Literal["ftd", "deposit"] | None:
        """The conversion sent for the deposit, which a reversal reverses."""
        return "ftd" if self.ftd == "sent" else "deposit" if self.deposit == "sent" else None

    def row(self) -> Row:
        return self.model_dump(mode="json", exclude_none=True)


def read_report(ledger: Ledger, transaction_id: str) -> DepositReport:
    """What was reported of a deposit. Reads its row `P|`."""
    stored = ledger.get(deposit_report_row(transaction_id))
    return DepositReport.model_validate(stored) if stored else DepositReport()


def mark(ledger: Ledger, transaction_id: str, event: Reported, how: Told,
         report: DepositReport | None = None, reversed_at: datetime | None = None) -> None:
    """Record what was reported for a deposit in its row `P|` (`report`: as already read; else
    read here; `reversed_at`: a reversal's time)."""
    if report is None:
        report = read_report(ledger, transaction_id)
    update: dict[str, object] = {event: how}
    if reversed_at is not None:
        update["chargeback_at"] = reversed_at
    ledger.put(deposit_report_row(transaction_id), report.model_copy(update=update).row())


def money_postbacks(
    state: PlayerState, ledger: Ledger, record: PlayerEvent | Attribution, policy: PlayerPolicy,
    now: datetime, replay: bool = False,
) -> list[Output]:
    """Deposit postbacks and reversals that `record` makes due (`replay`: send again those it
    made, for `replay_outputs`).

    Each approved deposit of an attributed player other than the one the FTD postback reported
    is a `deposit` postback, once (so ftd + deposit postbacks report every deposit once). When a
    deposit behind a sent conversion (its FTD or deposit postback) is charged back or stops
    counting (refunded, cancelled), a `chargeback` postback reverses it, once. Deposits made
    before the attribution arrived are reported when it does. Consent and RG are checked as for
    the FTD; the delivery engine sends each only to endpoints that subscribe to it.

    Rows: reads the deposit's payment `T|d|` and report `P|` (an attribution: every deposit
    ever approved, from the day index `I`, the days `D|` and the FTD candidates `A|`); writes
    `P|` of each deposit reported (never on a replay), and a chargeback's note (`chargeback_at`
    alone) whatever the tag."""
    if isinstance(record, Chargeback) and not replay:
        note_chargeback(ledger, record)
    tag = state.tag
    if tag is None or tag.status != "attributed" or not tag.click_id:
        return []
    if isinstance(record, Deposit | Chargeback):
        txns = [record.transaction_id]
    elif isinstance(record, Attribution):
        txns = list(dict.fromkeys(ever_approved_deposits(ledger)))
    else:
        return []
    at = record.occurred_at if isinstance(record, PlayerEvent) else None
    outputs: list[Output] = []
    for txn in txns:
        stored = ledger.get(payment_row("deposit", txn))
        if stored is None:
            continue  # a chargeback of a deposit clickpath has not seen
        payment = Payment.model_validate(stored)
        if replay:
            outputs += _resend(state, ledger, policy, tag, payment)
        else:
            reversed_by = at if isinstance(record, Chargeback) or not payment.counts() else None
            outputs += _report_deposit(state, ledger, policy, tag, payment, reversed_by, now)
    return outputs


def note_chargeback(ledger: Ledger, chargeback: Chargeback) -> None:
    """Note the time of a chargeback of a deposit no conversion was decided for yet (the first
    one noted stands), so the conversion's reversal goes out when the conversion does. Reads
    and writes the deposit's report row `P|` (none is written for a deposit already reported)."""
    report = read_report(ledger, chargeback.transaction_id)
    if report.reported or report.chargeback_at is not None:
        return  # reversed now (or nothing to reverse, ever), or noted already
    row = report.model_copy(update={"chargeback_at": chargeback.occurred_at}).row()
    ledger.put(deposit_report_row(chargeback.transaction_id), row)


def noted_reversal(
    state: PlayerState, ledger: Ledger, policy: PlayerPolicy, tag: Tag, dep: DepositRef,
    now: datetime,
) -> list[Output]:
    """The reversal of the conversion just sent for `dep` when a chargeback was noted for it
    before (`note_chargeback`), once. Reads and writes the deposit's report row `P|`."""
    report = read_report(ledger, dep.transaction_id)
    converted, at = report.converted, report.chargeback_at
    if converted is None or report.chargeback is not None or at is None:
        return []
    return _send(state, ledger, policy, tag, dep, report, "chargeback", at, converted, now)


def _ref_of(payment: Payment) -> DepositRef:
    return DepositRef(event_id=payment.first_event_id, transaction_id=payment.transaction_id,
                      occurred_at=payment.at, amount=payment.amount, currency=payment.currency)


def _report_deposit(
    state: PlayerState, ledger: Ledger, policy: PlayerPolicy, tag: Tag, payment: Payment,
    reversed_at: datetime | None, now: datetime,
) -> list[Output]:
    """The deposit's postback, or its reversal (`reversed_at`), if not reported yet. Reads and
    writes the deposit's report row `P|`."""
    report = read_report(ledger, payment.transaction_id)
    dep = _ref_of(payment)
    if reversed_at is None:
        if not payment.counts() or report.reported:
            return []
        sent = _send(state, ledger, policy, tag, dep, report, "deposit", payment.at, None, now)
        return sent + noted_reversal(state, ledger, policy, tag, dep, now)
    converted = report.converted
    if converted is None or report.chargeback is not None:
        return []
    return _send(state, ledger, policy, tag, dep, report, "chargeback", reversed_at, converted,
                 now)


def _send(
    state: PlayerState, ledger: Ledger, policy: PlayerPolicy, tag: Tag, dep: DepositRef,
    report: DepositReport, event: Literal["deposit", "chargeback"], at: datetime,
    reverses: Literal["ftd", "deposit"] | None, now: datetime,
) -> list[Output]:
    """The deposit's postback of `event` at `at`, or its suppression, recorded in its row `P|`
    (`report`: the row as read)."""
    key = f"{event}|{dep.transaction_id}"
    reason = postback_block(state.consents, state.rg_active, at)
    mark(ledger, dep.transaction_id, event, "sent" if reason is None else "suppressed", report,
         at if event == "chargeback" else None)
    if reason is not None:
        return [suppressed(state, tag, event, reason, now, key)]
    return [postback(state, policy, tag, event, at, dep, key, reverses)]


def _resend(
    state: PlayerState, ledger: Ledger, policy: PlayerPolicy, tag: Tag, payment: Payment
) -> list[Output]:
    """The deposit and reversal postbacks sent for `payment`, again (same ids). Reads the
    deposit's report row `P|`."""
    txn = payment.transaction_id
    report = read_report(ledger, txn)
    dep = _ref_of(payment)
    outputs = []
    if report.deposit == "sent":
        outputs.append(postback(state, policy, tag, "deposit", payment.at, dep, f"deposit|{txn}"))
    if report.chargeback == "sent" and report.chargeback_at is not None:
        reverses: Literal["ftd", "deposit"] = "ftd" if report.ftd == "sent" else "deposit"
        outputs.append(postback(state, policy, tag, "chargeback", report.chargeback_at, dep,
                                f"chargeback|{txn}", reverses))
    return outputs
