"""The event API's input shapes, derived from the ingress models so they cannot drift.

The API takes an event as the model has it, except for what the door owns: `received_at` is
stamped here, `brand_id` defaults to the API key's brand, `source` to the door, and raw
`email`/`phone`/`ip` are accepted where the type carries their pseudonyms. These models only
document the API (OpenAPI); `clickpath.connectors.ingress.parse_event` does the validating, per event.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from clickpath.connectors.ingress import RAW_IDENTIFIERS
from clickpath.contracts.models import INGRESS_TYPES, Id, IngressEvent

_RAW_DOC = {
    "email": "Raw e-mail: replaced by its keyed pseudonym (email_hash) at the door.",
    "phone": "Raw phone number: replaced by its keyed pseudonym (phone_hash) at the door.",
    "ip": "Raw IP address: replaced by a keyed hash and its /16 (/32) prefix at the door.",
}


def api_model(event_type: str, cls: type[IngressEvent]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if name == "received_at":
            continue
        if name == "event_type":
            fields[name] = (info.annotation, Field(description="The event's type."))
        elif name == "brand_id":
            fields[name] = (Id | None, Field(
                default=None, description="Defaults to the API key's brand, and must be it."
            ))
        elif name == "source":
            fields[name] = (Id | None, Field(default=None, description='Defaults to "api".'))
        else:
            fields[name] = (info.annotation, info)
    for raw, types in RAW_IDENTIFIERS.items():
        if event_type in types:
            fields[raw] = (str | None, Field(default=None, min_length=1, description=_RAW_DOC[raw]))
    return create_model(
        f"{cls.__name__}In", __config__=ConfigDict(extra="forbid"), __doc__=cls.__doc__, **fields
    )


API_MODELS = {event_type: api_model(event_type, cls) for event_type, cls in INGRESS_TYPES.items()}
EventIn: Any = Annotated[Union[tuple(API_MODELS.values())], Field(discriminator="event_type")]  # noqa: UP007


def events_request_schema(max_batch: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body schema of POST /v1/events and the component schemas it refers to."""
    schema = TypeAdapter(list[EventIn]).json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    body = {
        "type": "object",
        "required": ["events"],
        "properties": {"events": {**schema, "minItems": 1, "maxItems": max_batch}},
        "additionalProperties": False,
    }
    return body, components
