"""The player stage, declared: operator events and attribution decisions, keyed `brand_id:player_id`.

It deduplicates, detects the FTD and publishes canonical events, funnel facts, postbacks and the
player's profile. Most events (deposits, wagers, KYC...) take this one hop and no other. The
decisions are clickpath.domain.players'; this module only says how the runtime calls them (one
adapter each, so the domain's signatures can change in one place).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clickpath.contracts.models import Attribution, IngressEvent, PlayerEvent, Record, Registration
from clickpath.contracts.topics import Topic
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Outcome, Output, received_at_of, with_received_at
from clickpath.domain.players import PlayerPolicy, PlayerState, decide_player, replay_outputs
from clickpath.domain.profile import player_profile
from clickpath.domain.runs import Positioned
from clickpath.streams.runtime import Stage

# 1: {"state", "applied"} and ledger rows {"v", "base", "value"}; 2: the envelope adds
# "lineage" and "forks", the rows "l" (format 1 still loads: tests/fixtures/state/).
STATE_FORMAT = 3


def player_stage(policy: PlayerPolicy, forwarded_topic: str) -> Stage[PlayerState]:
    """`forwarded_topic`: the name of ATTRIBUTIONS, where the click stage forwards the
    registrations it linked to their click (so no `ClickLink` is sent for them again)."""

    def linked(item: Positioned[Any]) -> bool:
        return item.topic == forwarded_topic and isinstance(item.record, Registration)

    def decide(state: PlayerState | None, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> tuple[PlayerState, list[Output], Outcome]:
        assert ledger is not None  # keeps_ledger: the runtime hands every run its ledger
        new, outputs, outcome = decide_player(
            state, item.record, policy, now, linked(item), ledger=ledger
        )
        # Postbacks carry when their cause was received.
        return new, with_received_at(outputs, received_at_of(item.record, now)), outcome

    def replay(state: PlayerState, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> list[Output]:
        assert ledger is not None
        return with_received_at(
            replay_outputs(state, item.record, policy, now, linked(item), ledger=ledger),
            received_at_of(item.record, now),
        )

    return Stage(
        name="players",
        inputs=(Topic.EVENTS, Topic.ATTRIBUTIONS),
        key_of=person_key,
        accepts=(PlayerEvent, Attribution),
        state_model=PlayerState,
        state_format=STATE_FORMAT,
        decide=decide,
        replay=replay,
        timed=IngressEvent,
        keeps_ledger=True,
        after_run=profile_of,
    )


def person_key(record: Record) -> str:
    if isinstance(record, Attribution):
        return record.person_id
    assert isinstance(record, PlayerEvent)
    return record.person_id


def profile_of(key: str, state: PlayerState, now: datetime) -> Output:
    """The player's profile, sent once per changed (or replayed) player per batch."""
    return Output(Topic.PLAYER_PROFILES, key, player_profile(state, now))
