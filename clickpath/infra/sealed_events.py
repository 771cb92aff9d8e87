"""The doors' last step before the broker: each player event's personal fields sealed under its
brand account's own key (docs/privacy.md#erasure), so that destroying that key erases them on
every topic, in every state and table they are copied to.

An account that was erased has no key and gets none again: its later events keep their money
and drop their personal fields, so a late or replayed event cannot bring the person back.
Events with no personal fields (and clicks, which belong to no account yet) pass unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from clickpath.contracts.models import IngressEvent, PlayerEvent
from clickpath.contracts.models.ingress import SEALED_FIELDS
from clickpath.domain.privacy.sealing import SealError, key_id_of, seal_fields, unseal
from clickpath.infra.person_keys import PersonKeys

E = TypeVar("E", bound=IngressEvent)


def account_of(event: PlayerEvent) -> str:
    return f"{event.brand_id}:{event.player_id}"


def carries_personal(events: Sequence[IngressEvent]) -> bool:
    """Whether any of `events` has a personal field to seal (most batches have none)."""
    return any(isinstance(e, PlayerEvent) and _carries(e) for e in events)


def seal_events(events: Sequence[E], keys: PersonKeys) -> list[E]:
    """`events` with their personal fields sealed (one key-store round trip for the batch)."""
    personal = [e for e in events if isinstance(e, PlayerEvent) and _carries(e)]
    if not personal:
        return list(events)
    found = keys.keys_for({account_of(e) for e in personal if isinstance(e, PlayerEvent)})
    out: list[E] = []
    for event in events:
        if not (isinstance(event, PlayerEvent) and _carries(event)):
            out.append(event)
            continue
        fields = SEALED_FIELDS[event.event_type]
        account = account_of(event)
        key = found.get(account)
        values = {f: getattr(event, f) for f in fields}
        if key is None:  # erased: nothing personal of it is kept any more
            out.append(event.model_copy(update=dict.fromkeys(values)))
        else:
            out.append(event.model_copy(update=seal_fields(key, account, values, fields)))
    return out


def _carries(event: PlayerEvent) -> bool:
    fields = SEALED_FIELDS.get(event.event_type, ())
    return any(getattr(event, f, None) for f in fields)


def revealer(keys: PersonKeys) -> Callable[[str, str], str | None]:
    """Opens a sealed field for a stage that needs its value (the identity graph compares
    hashes): None when its key is gone (erased) or the value does not open (damaged)."""

    def reveal(field: str, value: str) -> str | None:
        key_id = key_id_of(value)
        key = keys.existing(key_id) if key_id is not None else None
        if key is None:
            return None
        try:
            return unseal(key, field, value)
        except SealError:
            return None

    return reveal
