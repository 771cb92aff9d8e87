"""The commissions stage, declared: each affiliate's plans applied to its players' earnings,
written as commission ledger entries; keyed `affiliate_id`.

It reads the earnings stage's cumulative records and the commission flags (hold, release,
clawback), and writes append-only entries to `commissions.ledger`; when a player's CPA starts
to pay, the qualified_cpa postback (or its suppression) and webhook too. The decisions are
clickpath.domain.commissions'; this module only says how the runtime calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from clickpath.contracts.models import (
    CommissionFlag,
    PlayerPeriodValue,
    PlayerQualification,
    Record,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.commissions import (
    AffiliateState,
    CommissionPolicy,
    decide_commissions,
    replay_commissions,
)
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Outcome, Output
from clickpath.domain.runs import Positioned
from clickpath.streams.runtime import Stage

STATE_FORMAT = 3


def commissions_stage(policy: Callable[[], CommissionPolicy]) -> Stage[AffiliateState]:
    """`policy()`: the plans, catalogue and FX rates in force now."""

    def decide(state: AffiliateState | None, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> tuple[AffiliateState, list[Output], Outcome]:
        assert ledger is not None  # keeps_ledger
        return decide_commissions(state, item.record, policy(), now, ledger=ledger)

    def replay(state: AffiliateState, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> list[Output]:
        assert ledger is not None
        return replay_commissions(state, item.record, policy(), now, ledger=ledger)

    return Stage(
        name="commissions",
        inputs=(Topic.EARNINGS, Topic.COMMISSION_FLAGS),
        key_of=_affiliate_key,
        accepts=(PlayerPeriodValue, PlayerQualification, CommissionFlag),
        state_model=AffiliateState,
        state_format=STATE_FORMAT,
        decide=decide,
        replay=replay,
        timed=(PlayerPeriodValue, PlayerQualification),  # flags carry no occurred_at
        keeps_ledger=True,
    )


def _affiliate_key(record: Record) -> str:
    assert isinstance(record, PlayerPeriodValue | PlayerQualification | CommissionFlag)
    return record.affiliate_id
