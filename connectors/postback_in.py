"""Postback-in: an operator's S2S postback (a GET with macros) mapped onto an ingress event.

Operators whose platforms can only fire postbacks (`?click_id=…&event=ftd&amount=…`) reach
the same events as the event API. A postback fired twice must not count twice, so when it
carries no `event_id` one is derived from what identifies the fact (the transaction for money,
the player for a registration).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from clickpath.connectors.ingress import Rejection, parse_event
from clickpath.contracts.event_time import DEFAULT_WINDOW, EventTimeWindow
from clickpath.contracts.models import IngressEvent, utcnow
from clickpath.domain.mappings import SourceMapping
from clickpath.domain.pseudonym import Keyring

POSTBACK_EVENTS = ("registration", "ftd", "deposit", "kyc", "chargeback")

# Per postback event: the ingress type and the query parameters it takes.
_MAPPING: dict[str, tuple[str, tuple[str, ...]]] = {
    "registration": (
        "registration", ("player_id", "click_id", "country", "email", "phone", "ip", "customer_id"),
    ),
    "ftd": ("deposit", ("player_id", "transaction_id", "amount", "currency", "method")),
    "deposit": ("deposit", ("player_id", "transaction_id", "amount", "currency", "method")),
    "kyc": ("kyc", ("player_id", "status", "level")),
    "chargeback": (
        "chargeback",
        ("player_id", "chargeback_id", "transaction_id", "amount", "currency", "reason"),
    ),
}


def event_from_postback(
    event: str, params: dict[str, str], *, pseudonym_key: bytes | Keyring, brand_id: str,
    window: EventTimeWindow = DEFAULT_WINDOW, mappings: Mapping[str, SourceMapping] | None = None,
) -> IngressEvent:
    """The ingress event a postback stands for; `Rejection` names a missing or bad parameter.

    Parameters it does not use (sub ids, cache busters in the operator's template) are ignored.
    A mapping of source `postback` applies to the event built from the parameters it uses.
    """
    if event not in _MAPPING:
        raise Rejection("event", f"unknown postback event {event!r}; one of: {', '.join(POSTBACK_EVENTS)}")
    event_type, fields = _MAPPING[event]
    values: dict[str, Any] = {k: v for k, v in params.items() if k in fields and v != ""}
    values["event_type"] = event_type
    values["occurred_at"] = _when(params.get("occurred_at") or params.get("timestamp"))
    if event_type == "chargeback" and "transaction_id" in values:
        values.setdefault("chargeback_id", f"cb-{values['transaction_id']}")
    values["event_id"] = params.get("event_id") or _derived_event_id(event_type, values)
    return parse_event(values, pseudonym_key=pseudonym_key, brand_id=brand_id, source="postback",
                       window=window, mappings=mappings)


def _derived_event_id(event_type: str, values: dict[str, Any]) -> str:
    if "player_id" not in values:
        raise Rejection("player_id", "Field required")
    identity = {
        "registration": values["player_id"],
        "deposit": values.get("transaction_id"),
        "kyc": f"{values['player_id']}:{values.get('status')}",
        "chargeback": values.get("chargeback_id"),
    }[event_type]
    if identity is None:
        raise Rejection("transaction_id", "Field required")
    return f"pb-{event_type}-{identity}"


def _when(raw: str | None) -> datetime:
    """Unix seconds or ISO 8601; the time of arrival when the postback names none."""
    if raw is None or raw == "":
        return utcnow()
    try:
        return datetime.fromtimestamp(float(raw), UTC)
    except OverflowError:
        raise Rejection("occurred_at", "a unix time out of any sane range") from None
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Rejection("occurred_at", "not unix seconds or an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise Rejection("occurred_at", "an ISO 8601 time needs a zone (e.g. Z)")
    return parsed
