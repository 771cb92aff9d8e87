"""What a decision asks the adapter to send: a record, its topic and its key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import orjson

from clickpath.contracts.models import Attribution, CanonicalEvent, IngressEvent, Postback, Record
from clickpath.contracts.topics import Topic


class Outcome(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REPLAYED = "replayed"  # already applied before a crash: its outputs are sent again
    PASSED = "passed"  # nothing to keep: its outputs are sent, no state is written


@dataclass(frozen=True)
class Output:
    topic: Topic
    key: str
    record: Record


_PROMOTED = {
    "event_id", "event_type", "occurred_at", "received_at", "brand_id", "source", "player_id",
    "click_id", "affiliate_id", "campaign_id", "transaction_id", "amount", "currency",
}


def canonical_of(
    event: IngressEvent, person_id: str, now: datetime, is_ftd: bool = False
) -> CanonicalEvent:
    """The deduplicated form of an ingress event, with its other fields kept as JSON.

    `now` is when the stage processed it (the caller's clock, so the function stays pure)."""
    values = event.model_dump()
    return CanonicalEvent(
        event_id=event.event_id,
        event_type=event.event_type,
        occurred_at=event.occurred_at,
        received_at=event.received_at,
        processed_at=now,
        brand_id=event.brand_id,
        source=event.source,
        person_id=person_id,
        player_id=values.get("player_id"),
        click_id=values.get("click_id"),
        affiliate_id=values.get("affiliate_id"),
        campaign_id=values.get("campaign_id"),
        transaction_id=values.get("transaction_id"),
        amount=values.get("amount"),
        currency=values.get("currency"),
        is_ftd=is_ftd,
        payload=event.model_dump_json(exclude=_PROMOTED),
    )


def payload_of(event: CanonicalEvent) -> dict[str, Any]:
    """The fields `canonical_of` kept as JSON in `payload`; {} when it holds no JSON object."""
    try:
        data = orjson.loads(event.payload)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def received_at_of(record: Record, fallback: datetime) -> datetime:
    """When clickpath received what `record` stands for: an ingress event's `received_at`, an
    attribution's decision time (a registration attributed when its click came is due then);
    `fallback` (the caller's stand-in, such as the Kafka timestamp) when neither is known."""
    if isinstance(record, IngressEvent) and record.received_at is not None:
        return record.received_at
    if isinstance(record, Attribution):
        return record.decided_at
    return fallback


def with_received_at(outputs: list[Output], received_at: datetime) -> list[Output]:
    """The outputs, their postbacks stamped with when their cause was received, so that the
    delivered latency measures clickpath's delay and not the event's age (docs/operations.md).
    The stamp is not part of the postback's id: a replayed postback is the same postback."""
    return [
        Output(o.topic, o.key, o.record.model_copy(update={"received_at": received_at}))
        if isinstance(o.record, Postback) and o.record.received_at is None else o
        for o in outputs
    ]
