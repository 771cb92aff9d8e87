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
from typing import Any

from pydantic import ValidationError

from clickpath.contracts.event_time import DEFAULT_WINDOW, EventTimeWindow
from clickpath.contracts.models import INGRESS_TYPES, IngressEvent, utcnow
from clickpath.domain.mappings import RAW_IDENTIFIERS, MappingRejection, SourceMapping, apply
from clickpath.domain.personal import find_personal
from clickpath.domain.pseudonym import keyed_hash, normalise_email, normalise_phone, pseudonymise_ip

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
    pseudonym_key: bytes,
    brand_id: str | None = None,
    source: str,
    window: EventTimeWindow = DEFAULT_WINDOW,
    mappings: Mapping[str, SourceMapping] | None = None,
) -> IngressEvent:
    """Validate one event in the API's JSON shape; raise `Rejection` naming the bad field.

    `source` fills the field when the event does not name one; the mapping of that source in
    `mappings` (settings.source_mappings), if any, then applies, before anything else is
    checked. `brand_id`, when given (the brand an API key is bound to), fills the field or must
    match it. `occurred_at` must be in `window` (settings.event_time_window; by default
    2000-01-01 to a day ahead).
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
    values["received_at"] = now = utcnow()
    # Raw e-mail, phone or IP anywhere but the fields made for them (attributes, ids, what a
    # mapping derived or kept) is refused, naming the field (clickpath/domain/personal.py).
    found = find_personal(values, allowed=RAW_IDENTIFIERS)
    if found is not None:
        raise Rejection(found.field, found.reason)
    _pseudonymise(values, event_type, pseudonym_key)
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


def _pseudonymise(values: dict[str, Any], event_type: str, key: bytes) -> None:
    for field, types in RAW_IDENTIFIERS.items():
        if field not in values:
            continue
        raw = values.pop(field)
        if raw is None:
            continue
        if event_type not in types or not isinstance(raw, str) or not raw.strip():
            raise Rejection(field, f"not accepted on a {event_type} event" if event_type not in types
                            else "must be a non-empty string")
        if field == "email":
            values["email_hash"] = keyed_hash(key, "email", normalise_email(raw))
        elif field == "phone":
            values["phone_hash"] = keyed_hash(key, "phone", normalise_phone(raw))
        else:
            try:
                values["ip_hash"], values["ip_prefix"] = pseudonymise_ip(key, raw)
            except ValueError:
                raise Rejection("ip", "not an IPv4 or IPv6 address") from None
