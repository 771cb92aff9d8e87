"""An in-memory identity.inbox for the account stage: every inbox output goes back to the
account it is keyed to, in a random order and with random copies, until nothing is in flight.

Each state is stored as JSON between records, as the runtime stores it, and now and then a
record just applied is "read again after a crash": its replay's outputs go out as well, so the
tests also prove replays are harmless. Every output is checked against the topic registry
(the identity stage may write it, the topic carries it, its key is the topic's key).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clickpath.contracts.models import CanonicalEvent, Record
from clickpath.contracts.models.identity import (
    IdentifierKind,
    IdentifierSighting,
    IdentityEvidence,
    IdentityLink,
    MultiAccountSignal,
    PersonChange,
    TouchpointLink,
)
from clickpath.contracts.topics import SPECS, Node, Topic, check_emit
from clickpath.domain.identity.account_state import AccountState, account_of, person_id_of
from clickpath.domain.identity.accounts import decide_inbox, observe, replay_account
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.outputs import Outcome, Output

T0 = datetime(2026, 3, 1, tzinfo=UTC)
OPERATOR = "default"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(account: str, minutes: float, event_type: str = "login", n: int = 0) -> CanonicalEvent:
    brand, player = account.split(":", 1)
    return CanonicalEvent(
        event_id=f"ev-{account}-{event_type}-{minutes}-{n}", event_type=event_type,
        occurred_at=at(minutes), processed_at=at(minutes), brand_id=brand, source="crm",
        person_id=account, player_id=player, is_ftd=False, payload="{}",
    )


def identifier(kind: str, value: str) -> str:
    return f"{OPERATOR}|{kind}|{value}"


def sighting(ev: CanonicalEvent, kind: IdentifierKind, value: str) -> IdentifierSighting:
    return IdentifierSighting(
        identifier=identifier(kind, value), operator_id=OPERATOR, kind=kind, brand_id=ev.brand_id,
        account=account_of(ev), seen_at=ev.occurred_at, event_id=ev.event_id,
    )


def evidence(
    a: str, b: str, kind: IdentifierKind, value: str, policy: IdentityPolicy,
    state: str = "shared", minutes: float = 0,
) -> list[IdentityEvidence]:
    """What an identifier's partition sends both accounts of a pair sharing `value`."""
    weight = policy.weight_of(kind, value) if state == "shared" else 0.0
    return [
        IdentityEvidence(account=x, other=y, identifier=identifier(kind, value), kind=kind,
                         state=state, weight=weight, at=at(minutes))  # type: ignore[arg-type]
        for x, y in ((a, b), (b, a))
    ]


Input = Record | tuple[CanonicalEvent, Sequence[IdentifierSighting]]


@dataclass
class Loop:
    """The account stage's partitions and its inbox, in memory."""

    policy: IdentityPolicy
    seed: int = 0
    duplicates: float = 0.2  # the chance a delivered record is delivered again later
    replays: float = 0.1  # the chance an applied record is replayed right after
    max_steps: int = 200_000
    states: dict[str, AccountState] = field(default_factory=dict)
    emitted: list[Output] = field(default_factory=list)  # every output not on the inbox
    steps: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def run(self, inputs: Iterable[Input]) -> Loop:
        pending: list[tuple[Input, bool]] = [(i, False) for i in inputs]
        while pending:
            self.steps += 1
            assert self.steps < self.max_steps, "the inbox never went quiet"
            item, copy = pending.pop(self.rng.randrange(len(pending)))
            if not copy and self.rng.random() < self.duplicates:
                pending.append((item, True))
            for out in self._deliver(item):
                self._check(out)
                if out.topic is Topic.IDENTITY_INBOX:
                    pending.append((out.record, False))
                else:
                    self.emitted.append(out)
        return self

    def _deliver(self, item: Input) -> list[Output]:
        now = T0 + timedelta(seconds=self.steps)
        record: Any
        if isinstance(item, tuple):
            record, sightings = item
            key = account_of(record)
            state, outputs, outcome = observe(self.states.get(key), record, sightings, self.policy, now)
        else:
            record = item
            key = record.account
            state, outputs, outcome = decide_inbox(self.states.get(key), record, self.policy, now)
        if outcome is Outcome.ACCEPTED or key not in self.states:
            self.states[key] = AccountState.model_validate_json(state.model_dump_json())
        if outcome is Outcome.ACCEPTED and self.rng.random() < self.replays:
            outputs = outputs + replay_account(self.states[key], record, self.policy, now)
        return outputs

    def _check(self, out: Output) -> None:
        check_emit(Node.IDENTITY, out.topic, out.record)
        assert SPECS[out.topic].key.of(out.record) == out.key, out

    # What the graph ends as.

    def person(self, account: str) -> str:
        state = self.states.get(account)
        return state.person_id if state else person_id_of(OPERATOR, account)

    def merged_pairs(self) -> set[frozenset[str]]:
        return {frozenset((a, b)) for a, s in self.states.items() for b in s.merged()}

    def last(self, kind: type[Record], key: Any) -> dict[Any, Any]:
        """The newest version of each emitted record of `kind`, by `key(record)`."""
        newest: dict[Any, Any] = {}
        for out in self.emitted:
            r = out.record
            if isinstance(r, kind):
                k = key(r)
                if k not in newest or r.version > newest[k].version:  # type: ignore[attr-defined]
                    newest[k] = r
        return newest

    def links(self) -> dict[tuple[str, str], IdentityLink]:
        return self.last(IdentityLink, lambda r: (r.account, r.other))

    def signals(self) -> dict[str, MultiAccountSignal]:
        return self.last(MultiAccountSignal, lambda r: r.signal_id)

    def open_signals(self) -> dict[str, tuple[Any, ...]]:
        """The open signals, without what depends on the order (version, time)."""
        return {
            sid: (s.brand_id, tuple(s.accounts), round(s.score, 9), tuple(sorted(s.reasons.items())))
            for sid, s in self.signals().items() if s.status == "open"
        }

    def changes(self) -> dict[str, PersonChange]:
        return self.last(PersonChange, lambda r: r.account)

    def touchpoints(self) -> list[TouchpointLink]:
        return [o.record for o in self.emitted if isinstance(o.record, TouchpointLink)]
