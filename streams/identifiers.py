"""The identifier stage, declared: each identifier (`operator|kind|value`) with the accounts
and clicks it was seen on, keyed by the identifier.

It reads the identity stage's sightings and tells the accounts about each other (evidence, and
its withdrawal once the identifier is shared by too many), and about the clicks seen on it. The
decisions are clickpath.domain.identity.values'; this module only says how the runtime calls
them and counts the identifiers that became shared.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from clickpath.contracts.models import IdentifierSighting, Record
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.identity.values import IdentifierState, decide_identifier, replay_identifier
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Outcome, Output
from clickpath.domain.runs import Positioned
from clickpath.infra.metrics import IDENTIFIERS_SHARED
from clickpath.streams.runtime import Stage

STATE_FORMAT = 1


def identifier_stage(policy: Callable[[], IdentityPolicy]) -> Stage[IdentifierState]:
    """`policy()`: the identity rules in force now."""

    def decide(state: IdentifierState | None, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> tuple[IdentifierState, list[Output], Outcome]:
        new, outputs, outcome = decide_identifier(state, item.record, policy())
        if new.shared and not (state is not None and state.shared):
            IDENTIFIERS_SHARED.labels(item.record.kind).inc()
        return new, outputs, outcome

    def replay(state: IdentifierState, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> list[Output]:
        return replay_identifier(state, item.record, policy())

    return Stage(
        name="identifiers",
        inputs=(Topic.IDENTITY_SIGHTINGS,),
        key_of=_identifier_key,
        accepts=(IdentifierSighting,),
        state_model=IdentifierState,
        state_format=STATE_FORMAT,
        decide=decide,
        replay=replay,
        timed=(),
    )


def _identifier_key(record: Record) -> str:
    assert isinstance(record, IdentifierSighting)
    return record.identifier
