"""JSON to ingress events, shared by every door (event API, postback-in, import, tracker).

One place decides what a valid event is: the pydantic models checked against `schemas/`. The
door adds the envelope fields it owns (`brand_id` from the API key, `source`, `received_at`)
and turns raw e-mail, phone and IP into keyed pseudonyms here, before anything is produced;
one found anywhere else (an attribute, an id) refuses the event.
A rejection names the field (a dotted path) and the reason, as the API answers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from clickpath.contracts.event_time import DEFAULT_WINDOW, EventTimeWindow
from clickpath.contracts.models import INGRESS_TYPES, IngressEvent, utcnow
from clickpath.domain.mappings import RAW_IDENTIFIERS, MappingRejection, SourceMapping, apply
from clickpath.domain.personal import find_personal
from clickpath.domain.pseudonym import (
    Keyring,
    as_keyring,
    normalise_email,
    normalise_phone,
)

__all__ = ["RAW_IDENTIFIERS", "Rejection", "parse_event"]


@dataclass(frozen=True)
class Rejection(Exception):
    """Why one event was refused: the field (dotted path, "" for the whole event) and reason."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field or 'event'}: {self.reason}"


def parse_event(
    data: Any,
    *,
    pseudonym_key: bytes | Keyring,
    brand_id: str | None = None,
    source: str,
    window: EventTimeWindow = DEFAULT_WINDOW,
    mappings: Mapping[str, SourceMapping] | None = None,
    now: datetime | None = None,
) -> IngressEvent:
    """Validate one event in the API's JSON shape; raise `Rejection` naming the bad field.

    `source` fills the field when the event does not name one; the mapping of that source in
    `mappings` (settings.source_mappings), if any, then applies, before anything else is
    checked. `brand_id`, when given (the brand an API key is bound to), fills the field or must
    match it. `occurred_at` must be in `window` (settings.event_time_window; by default
    2000-01-01 to a day ahead).
    `pseudonym_key`: the keyring (clickpath.infra.pseudonym_keys.keyring), or one key of
    version 1. `now`: the door's clock (received_at; default the wall clock), which also picks
    the applying key.
    """
    if not isinstance(data, dict):
        raise Rejection("", f"an event must be a JSON object, not {type(data).__name__}")
    values = dict(data)
    values.setdefault("source", source)
    mapping = mappings.get(values["source"]) if mappings and isinstance(values["source"], str) else None
    if mapping is not None:
        try:
            values = apply(mapping, values)
        except MappingRejection as r:
            raise Rejection(r.field, r.reason) from None
    event_type = values.get("event_type")
    cls = INGRESS_TYPES.get(event_type) if isinstance(event_type, str) else None
    if cls is None or not isinstance(event_type, str):
        known = ", ".join(sorted(INGRESS_TYPES))
        raise Rejection("event_type", f"unknown event type {event_type!r}; one of: {known}")
    if brand_id is not None:
        given = values.setdefault("brand_id", brand_id)
        if given != brand_id:
            raise Rejection("brand_id", f"this API key may only send events of brand {brand_id!r}")
    values["received_at"] = now = now or utcnow()
    # Raw e-mail, phone or IP anywhere but the fields made for them (attributes, ids, what a
    # mapping derived or kept) is refused, naming the field (clickpath/domain/personal.py).
    found = find_personal(values, allowed=RAW_IDENTIFIERS)
    if found is not None:
        raise Rejection(found.field, found.reason)
    _pseudonymise(values, event_type, as_keyring(pseudonym_key), now)
    try:
        event = cls.model_validate(values)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        reason = first["msg"]
        if first["type"] == "extra_forbidden":
            reason = f"unknown field for a {event_type} event"
        raise Rejection(field, reason) from None
    problem = window.problem(event.occurred_at, now)
    if problem is not None:
        raise Rejection("occurred_at", problem)
    return event


def _pseudonymise(values: dict[str, Any], event_type: str, keys: Keyring, at: datetime) -> None:
    """Replace the raw identifiers with their pseudonyms under the key applying `at`; during a
    grace period, a registration's e-mail and phone also under the previous key
    (`previous_email_hash`, `previous_phone_hash`), for the identity graph. The IP only under
    the applying key: nothing links on `ip_hash` (the graph uses `ip_prefix`)."""
    for field, types in RAW_IDENTIFIERS.items():
        if field not in values:
            continue
        raw = values.pop(field)
        if raw is None:
            continue
        if event_type not in types or not isinstance(raw, str) or not raw.strip():
            raise Rejection(field, f"not accepted on a {event_type} event" if event_type not in types
                            else "must be a non-empty string")
        if field in ("email", "phone"):
            normal = normalise_email(raw) if field == "email" else normalise_phone(raw)
            current, previous = keys.hashes(field, normal, at)
            values[f"{field}_hash"] = current
            values.pop(f"previous_{field}_hash", None)  # the door's hashes, not a sender's
            if previous is not None:
                values[f"previous_{field}_hash"] = previous
        else:
            try:
                values["ip_hash"], values["ip_prefix"] = keys.ip(raw, at)
            except ValueError:
                raise Rejection("ip", "not an IPv4 or IPv6 address") from None
