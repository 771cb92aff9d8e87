"""The commission decision: one record in, the ledger entries it makes due out.

Dispatches the record to its component, then re-prices what it moved: the RevShare of each
period touched, the carry-over chain from the earliest of them on, and the parent's share of
every period where this affiliate's own commission changed. The entries written are kept with
the record's row, so a replay after a crash sends exactly them again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clickpath.contracts.models import DeliveryAttempt, Postback, Webhook
from clickpath.contracts.models.commissions import (
    AffiliatePlayerStatus,
    CommissionFlag,
    LedgerEntry,
    PlayerPeriodValue,
    PlayerQualification,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.commissions import cpa, flags, revshare
from clickpath.domain.commissions.policy import CommissionPolicy
from clickpath.domain.commissions.run import Cause, Run
from clickpath.domain.commissions.state import (
    AffiliateState,
    FlagRow,
    QualificationRow,
    Sent,
    ValueRow,
    flag_key,
    qualification_key,
    value_key,
)
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Outcome, Output

CommissionRecord = PlayerPeriodValue | PlayerQualification | CommissionFlag


def _cause(record: CommissionRecord) -> tuple[Cause, type[Sent]]:
    """The record's identity (its row), version and what its entries say caused them."""
    if isinstance(record, PlayerPeriodValue):
        reason = "retag" if record.cause == "retag" else None
        key = value_key(record.person_id, record.period, record.currency)
        return Cause(key, record.version, record.caused_by, record.occurred_at, record.cause,
                     reason), ValueRow
    if isinstance(record, PlayerQualification):
        key = qualification_key(record.person_id)
        return Cause(key, record.version, record.caused_by, record.occurred_at), QualificationRow
    return Cause(flag_key(record.flag_id), 0, record.caused_by, record.flagged_at,
                 reason=flags.REASONS[record.action]), FlagRow


def key_of(record: CommissionRecord) -> str:
    """The stage key: every record of an affiliate goes to its state."""
    return record.affiliate_id


def decide_commissions(
    state: AffiliateState | None,
    record: CommissionRecord,
    policy: CommissionPolicy,
    now: datetime,
    *,
    ledger: Ledger,
) -> tuple[AffiliateState, list[Output], Outcome]:
    """Apply one record; a record not newer than its row (or a flag seen) writes nothing.

    Rows: reads and writes the record's own row and those of what it moves (state.py lists
    them); the state changes only when the record is applied."""
    before = state or AffiliateState(affiliate_id=record.affiliate_id)
    run = Run(before.model_copy(deep=True), policy, now, ledger, _cause(record)[0])
    if isinstance(record, PlayerPeriodValue):
        applied = revshare.apply_value(run, record)
    elif isinstance(record, PlayerQualification):
        applied = cpa.apply_qualification(run, record)
    else:
        applied = flags.apply_flag(run, record)
    if not applied:
        return before, [], Outcome.DUPLICATE
    for period in sorted(run.revshare_periods):
        revshare.evaluate_period(run, period)
    if run.revshare_periods and run.state.periods:
        revshare.carry_forward(run, min(run.revshare_periods))
    for period in sorted(run.own_periods):
        revshare.sub_affiliate(run, period)
    cause, model = _cause(record)
    row = run.row(cause.identity, model)
    statuses = list(run.statuses.values())
    notices = [(o.topic.value, o.record.model_dump(mode="json")) for o in run.notices]
    row.keep(cause.version, [o.record.model_dump(mode="json") for o in run.outputs], now,
             [o.record.model_dump(mode="json") for o in statuses], notices)
    run.write_rows()
    run.state.version += 1
    return run.state, [*run.outputs, *statuses, *run.notices], Outcome.ACCEPTED


def replay_commissions(
    state: AffiliateState,
    record: CommissionRecord,
    policy: CommissionPolicy,
    now: datetime,
    *,
    ledger: Ledger,
) -> list[Output]:
    """The entries (and player statuses) `record` wrote when it was applied (read again after a
    crash), the same entry ids; nothing for a record that wrote nothing. Reads the record's row,
    writes none."""
    cause, model = _cause(record)
    stored = ledger.get(cause.identity)
    if stored is None:
        return []
    row = model.model_validate(stored)
    entries = [LedgerEntry.model_validate(e) for e in row.sent.get(str(cause.version), [])]
    statuses = [AffiliatePlayerStatus.model_validate(s)
                for s in row.sent_status.get(str(cause.version), [])]
    outputs = [Output(Topic.COMMISSION_LEDGER, e.affiliate_id, e) for e in entries]
    outputs += [Output(Topic.AFFILIATE_PLAYERS, s.affiliate_id, s) for s in statuses]
    return outputs + [notice(topic, record) for topic, record in row.notices.get(str(cause.version), [])]


_NOTICES: dict[Topic, type[Postback | Webhook | DeliveryAttempt]] = {
    Topic.POSTBACKS: Postback, Topic.WEBHOOKS: Webhook, Topic.DELIVERY_ATTEMPTS: DeliveryAttempt,
}


def notice(topic: str, stored: dict[str, Any]) -> Output:
    """A kept qualified_cpa postback, webhook or suppression, as it was sent (a replay)."""
    model = _NOTICES[Topic(topic)]
    record = model.model_validate(stored)
    key = record.affiliate_id or ""
    return Output(Topic(topic), key, record)
