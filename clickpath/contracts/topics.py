"""The one registry of clickpath's topics: name, key, value records, partitions, retention.

Agents, sinks, the admin bootstrap and the tests read it; no topic name is spelled anywhere
else. Names carry the configured prefix so that several pipelines (or tests) share a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class Prefixed(Protocol):
    """What names topics: the settings' prefix (a protocol, so contracts import no settings)."""

    @property
    def topic_prefix(self) -> str: ...


class Topic(Enum):
    CLICKS = "ingress.clicks"
    EVENTS = "ingress.events"
    PAGE_VIEWS = "ingress.page-views"
    CLICK_LINKS = "stream.click-links"
    ATTRIBUTIONS = "stream.attributions"
    CANONICAL = "canonical.events"
    PLAYER_DAY_FACTS = "facts.player-day"
    PLAYER_PROFILES = "players.profiles"
    POSTBACKS = "postbacks"
    DELIVERY_RETRIES = "deliveries.retries"
    DELIVERY_ATTEMPTS = "deliveries.attempts"
    DEAD_LETTER = "deadletter"


@dataclass(frozen=True)
class TopicSpec:
    topic: Topic
    key: str
    records: tuple[str, ...]
    doc: str
    retention_ms: int = 7 * 24 * 3600 * 1000

    def name(self, settings: Prefixed) -> str:
        return f"{settings.topic_prefix}.{self.topic.value}"


_DAY = 24 * 3600 * 1000
SPECS: dict[Topic, TopicSpec] = {
    spec.topic: spec
    for spec in (
        TopicSpec(
            Topic.CLICKS, "click_id",
            ("io.clickpath.ingress.Click", "io.clickpath.ingress.Registration (naming a click)"),
            "Affiliate clicks from the tracker, and registrations that name a click.",
        ),
        TopicSpec(
            Topic.EVENTS, "brand_id:player_id",
            ("every io.clickpath.ingress record except Click",),
            "Operator events about players: registration, KYC, deposits, wagers, consent...",
        ),
        TopicSpec(
            Topic.PAGE_VIEWS, "click_id", ("io.clickpath.ingress.PageView",),
            "Landing-page context the web SDK collected with consent; no stream agent reads it.",
        ),
        TopicSpec(
            Topic.CLICK_LINKS, "click_id", ("io.clickpath.stream.ClickLink",),
            "Registrations that name a click, repartitioned to the click's partition.",
        ),
        TopicSpec(
            Topic.ATTRIBUTIONS, "person_id",
            ("io.clickpath.stream.Attribution", "io.clickpath.ingress.Registration"),
            "Registrations linked to their click, and attribution decisions, on the player's"
            " partition.",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.CANONICAL, "person_id (click_id for clicks)",
            ("io.clickpath.stream.CanonicalEvent",),
            "Deduplicated, identity-resolved events.",
            retention_ms=30 * _DAY,
        ),
        TopicSpec(
            Topic.PLAYER_DAY_FACTS, "person_id", ("io.clickpath.stream.PlayerDayFact",),
            "Each player's cumulative funnel contribution per day and currency.",
            retention_ms=30 * _DAY,
        ),
        TopicSpec(
            Topic.PLAYER_PROFILES, "person_id", ("io.clickpath.stream.PlayerProfile",),
            "Each player's profile, whenever it changes (the newest version is the player).",
            retention_ms=30 * _DAY,
        ),
        TopicSpec(
            Topic.POSTBACKS, "affiliate_id",
            ("io.clickpath.outward.Postback", "io.clickpath.outward.PostbackRevocation"),
            "Conversions for affiliates: consumed by the delivery engine or by affiliate platforms.",
            retention_ms=30 * _DAY,
        ),
        TopicSpec(
            Topic.DELIVERY_RETRIES, "endpoint_id (affiliate_id for revocations)",
            ("io.clickpath.outward.DeliveryJob", "io.clickpath.outward.PostbackRevocation"),
            "Deliveries waiting for a later attempt, and the revocations they must still see.",
            retention_ms=30 * _DAY,
        ),
        TopicSpec(
            Topic.DELIVERY_ATTEMPTS, "endpoint_id", ("io.clickpath.outward.DeliveryAttempt",),
            "Every delivery attempt and its outcome: the delivery log ClickHouse keeps.",
            retention_ms=7 * _DAY,
        ),
        TopicSpec(
            Topic.DEAD_LETTER, "original key", ("io.clickpath.outward.DeadLetter",),
            "Records that failed: original bytes, topic/partition/offset, stage and reason.",
            retention_ms=30 * _DAY,
        ),
    )
}


def topic_name(settings: Prefixed, topic: Topic) -> str:
    return SPECS[topic].name(settings)


def all_topic_names(settings: Prefixed) -> list[str]:
    return [spec.name(settings) for spec in SPECS.values()]
