"""The earnings stage, declared: each player's value per commission period and their CPA
qualification, keyed `brand_id:player_id`.

It reads only what the player stage wrote (canonical events and profiles; the click stage's
canonical clicks on the same topic, and the event types it never acts on, are skipped unread)
and sends cumulative records to the affiliate's partition of `commissions.earnings`, where the
commissions stage applies the plan. The decisions are clickpath.domain.earnings'; this module
only says how the runtime calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from clickpath.contracts.models import CanonicalEvent, PlayerProfile, Record
from clickpath.contracts.topics import Topic
from clickpath.domain.earnings import (
    EarningsPolicy,
    EarningsState,
    decide_earnings,
    replay_earnings,
    wants_kind,
    wants_record,
)
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Outcome, Output
from clickpath.domain.runs import Positioned
from clickpath.streams.runtime import Stage

STATE_FORMAT = 3


def earnings_stage(policy: Callable[[], EarningsPolicy]) -> Stage[EarningsState]:
    """`policy()`: the plans in force now (admin changes reach a running worker through it)."""

    def decide(state: EarningsState | None, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> tuple[EarningsState, list[Output], Outcome]:
        assert ledger is not None  # keeps_ledger
        return decide_earnings(state, item.record, policy(), now, ledger=ledger)

    def replay(state: EarningsState, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> list[Output]:
        assert ledger is not None
        return replay_earnings(state, item.record, policy(), now, ledger=ledger)

    return Stage(
        name="earnings",
        inputs=(Topic.CANONICAL, Topic.PLAYER_PROFILES),
        key_of=_person_key,
        accepts=(CanonicalEvent, PlayerProfile),
        state_model=EarningsState,
        state_format=STATE_FORMAT,
        decide=decide,
        replay=replay,
        timed=CanonicalEvent,
        keeps_ledger=True,
        wants=wants_record,
        wants_kind=wants_kind,
    )


def _person_key(record: Record) -> str:
    assert isinstance(record, CanonicalEvent | PlayerProfile)
    return record.person_id
