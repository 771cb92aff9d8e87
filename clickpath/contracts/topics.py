"""The one registry of clickpath's topics: name, key, records, who writes and reads, retention.

Agents, sinks, the admin bootstrap and the tests read it; no topic name is spelled anywhere
else, and no stage lists its inputs by hand: the sinks subscribe to `topics_consumed_by(stage)`,
the stream stages read `inputs_of(stage)`, and `check_emit` refuses an output to a topic that
does not name its stage as a producer or its record class as a record. The flow diagram in
docs/architecture.md is drawn from it (`clickpath.contracts.flow`). Names carry the configured
prefix so that several pipelines (or tests) share a cluster.

It must stay a declaration: no I/O, no settings, nothing above `clickpath.contracts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from operator import attrgetter
from typing import Any, Protocol

from clickpath.contracts.models import (
    PLAYER_EVENT_TYPES,
    AffiliatePlayerStatus,
    Attribution,
    CanonicalEvent,
    Click,
    ClickCandidate,
    ClickClaim,
    ClickLink,
    CommissionFlag,
    DeadLetter,
    DeliveryAttempt,
    DeliveryJob,
    Erasure,
    EventBatch,
    IdentifierSighting,
    IdentityEvidence,
    IdentityLink,
    LedgerEntry,
    MultiAccountSignal,
    PageView,
    PersonChange,
    PersonLabel,
    PlayerDayFact,
    PlayerPeriodValue,
    PlayerProfile,
    PlayerQualification,
    Postback,
    PostbackRevocation,
    Record,
    Registration,
    TouchpointLink,
    UnmergeRequest,
    Webhook,
)


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
    WEBHOOKS = "webhooks"
    EARNINGS = "commissions.earnings"
    COMMISSION_FLAGS = "commissions.flags"
    COMMISSION_LEDGER = "commissions.ledger"
    AFFILIATE_PLAYERS = "commissions.players"
    IDENTITY_SIGHTINGS = "identity.sightings"
    IDENTITY_INBOX = "identity.inbox"
    IDENTITY_LINKS = "identity.links"
    IDENTITY_PERSONS = "identity.persons"
    IDENTITY_SIGNALS = "identity.signals"
    IDENTITY_TOUCHPOINTS = "identity.touchpoints"
    PRIVACY_ERASURES = "privacy.erasures"
    DELIVERY_RETRIES = "deliveries.retries"
    DELIVERY_ATTEMPTS = "deliveries.attempts"
    DEAD_LETTER = "deadletter"


class Node(StrEnum):
    """What writes or reads a topic: a door, an agent of the worker, a sink, a command.

    The values are the names docs/architecture.md draws; the process roles (`clickpath up`)
    are `api` (api, tracker), `worker` (players, clicks, earnings, commissions), `sink-clickhouse`
    and `sink-postbacks`.
    """

    API = "api"  # the event API and postback-in (operators' back ends)
    TRACKER = "tracker"  # the click tracker and the web SDK's collector
    IMPORTER = "importer"  # `clickpath import`
    OPERATOR_SDK = "operator-sdk"  # an operator's own producer: EventProducer or any Kafka client
    PLAYERS = "players"
    CLICKS = "clicks"
    EARNINGS = "earnings"  # each player's value per period and CPA qualification
    COMMISSIONS = "commissions"  # each affiliate's plan applied: the commission ledger
    IDENTITY = "identity"  # brand accounts: their identifiers, scored pairs and person
    IDENTIFIERS = "identifiers"  # each identifier: the accounts and clicks it was seen on
    IDENTITY_ADMIN = "identity-admin"  # `clickpath identity unmerge` (and its admin API)
    SINK_CLICKHOUSE = "sink-clickhouse"
    SINK_POSTBACKS = "sink-postbacks"  # the delivery engine: postbacks, and webhooks (canonical)
    DELIVERIES_REPLAY = "deliveries-replay"  # `clickpath deliveries replay`
    PERIOD_CLOSE = "period-close"  # `clickpath close` (and its admin API): statement_closed


class TopologyError(ValueError):
    """A stage wrote or read what the registry does not allow; the message says what and why."""


@dataclass(frozen=True)
class Key:
    """A topic's Kafka key: what it is, for people (docs/topics.md, `clickpath topics`), and
    the function that gives it from a record, for code that checks keys."""

    doc: str
    of: Callable[[Any], str]

    def __str__(self) -> str:
        return self.doc


def _field(name: str) -> Callable[[Any], str]:
    return attrgetter(name)


def _canonical_key(event: CanonicalEvent) -> str:
    return event.person_id or event.click_id or ""  # a click's canonical event has no person


def _retry_key(record: DeliveryJob | PostbackRevocation) -> str:
    return record.affiliate_id if isinstance(record, PostbackRevocation) else record.endpoint_id


def _attempt_key(attempt: DeliveryAttempt) -> str:
    # A postback the player stage suppressed never reached an endpoint ("-"): its affiliate.
    return (attempt.affiliate_id or "") if attempt.endpoint_id == "-" else attempt.endpoint_id


def _dead_letter_key(letter: DeadLetter) -> str:
    return (letter.original_key or b"").decode(errors="replace")


_CLICK_ID = Key("click_id", _field("click_id"))
_AFFILIATE = Key("affiliate_id", _field("affiliate_id"))
_PERSON = Key("brand_id:player_id", _field("person_id"))
_ACCOUNT = Key("brand_id:player_id", _field("account"))


@dataclass(frozen=True)
class TopicSpec:
    """One topic. `records`: the record classes its values may be (the Avro schema of each is
    its `avro_name`); `producers` and `consumers`: the stages that write and read it.

    `batched`: the topic carries batch records (`EventBatch`, docs/topics.md 'Batch records'):
    clickpath's writers pack its events per partition, and every reader unpacks them
    (`clickpath.contracts.batches.unpack`). Only internal topics: what partners read stays one
    event per record."""

    topic: Topic
    key: Key
    records: tuple[type[Record], ...]
    producers: tuple[Node, ...]
    consumers: tuple[Node, ...]
    doc: str
    retention_ms: int = 7 * 24 * 3600 * 1000
    batched: bool = False

    def __post_init__(self) -> None:
        if self.batched != (EventBatch in self.records):
            raise ValueError(f"{self.topic.value}: a batched topic, and only one, carries EventBatch")

    def name(self, settings: Prefixed) -> str:
        return f"{settings.topic_prefix}.{self.topic.value}"

    def carries(self, record: Record) -> bool:
        return type(record) in self.records


_DAY = 24 * 3600 * 1000
_DOORS = (Node.API, Node.IMPORTER, Node.OPERATOR_SDK)
SPECS: dict[Topic, TopicSpec] = {
    spec.topic: spec
    for spec in (
        TopicSpec(
            Topic.CLICKS, _CLICK_ID, (Click, Registration, EventBatch),
            producers=(*_DOORS, Node.TRACKER), consumers=(Node.CLICKS,), batched=True,
            doc="Affiliate clicks from the tracker, and registrations that name a click.",
        ),
        TopicSpec(
            Topic.EVENTS, _PERSON, (*PLAYER_EVENT_TYPES, EventBatch),
            producers=_DOORS, consumers=(Node.PLAYERS,), batched=True,
            doc="Operator events about players: registration, KYC, deposits, wagers, consent...",
        ),
        TopicSpec(
            Topic.PAGE_VIEWS, _CLICK_ID, (PageView, EventBatch),
            producers=(Node.TRACKER, Node.OPERATOR_SDK), consumers=(Node.IDENTITY,), batched=True,
            doc="Landing-page context the web SDK collected with consent: the identity stage"
            " takes its device, IP prefix and user agent as evidence of the account that named"
            " the click.",
        ),
        TopicSpec(
            Topic.CLICK_LINKS, _CLICK_ID, (ClickLink,),
            producers=(Node.PLAYERS,), consumers=(Node.CLICKS,),
            doc="Registrations that name a click, repartitioned to the click's partition.",
        ),
        TopicSpec(
            Topic.ATTRIBUTIONS, _PERSON, (Attribution, Registration),
            producers=(Node.CLICKS,), consumers=(Node.PLAYERS, Node.SINK_CLICKHOUSE),
            doc="Registrations linked to their click, and attribution decisions, on the player's"
            " partition.",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.CANONICAL, Key("brand_id:player_id (click_id for clicks)", _canonical_key),
            (CanonicalEvent, EventBatch),
            producers=(Node.PLAYERS, Node.CLICKS),
            consumers=(Node.SINK_CLICKHOUSE, Node.SINK_POSTBACKS, Node.EARNINGS, Node.IDENTITY),
            doc="Deduplicated, identity-resolved events.",
            retention_ms=30 * _DAY, batched=True,
        ),
        TopicSpec(
            Topic.PLAYER_DAY_FACTS, _PERSON, (PlayerDayFact,),
            producers=(Node.PLAYERS,), consumers=(Node.SINK_CLICKHOUSE,),
            doc="Each player's cumulative funnel contribution per day and currency.",
            retention_ms=30 * _DAY,
        ),
        TopicSpec(
            Topic.PLAYER_PROFILES, _PERSON, (PlayerProfile, EventBatch),
            producers=(Node.PLAYERS,), consumers=(Node.SINK_CLICKHOUSE, Node.EARNINGS),
            doc="Each player's profile, whenever it changes (the newest version is the player).",
            retention_ms=30 * _DAY, batched=True,
        ),
        TopicSpec(
            Topic.POSTBACKS, Key("affiliate_id", _field("affiliate_id")),
            (Postback, PostbackRevocation),
            producers=(Node.PLAYERS, Node.COMMISSIONS, Node.IDENTITY),
            consumers=(Node.SINK_POSTBACKS,),
            doc="Conversions for affiliates: consumed by the delivery engine or by affiliate platforms.",
            retention_ms=30 * _DAY,
        ),
        TopicSpec(
            Topic.WEBHOOKS, _AFFILIATE, (Webhook,),
            producers=(Node.COMMISSIONS, Node.PERIOD_CLOSE), consumers=(Node.SINK_POSTBACKS,),
            doc="Webhook events no canonical event stands for: qualified_cpa, statement_closed.",
            retention_ms=30 * _DAY,
        ),
        TopicSpec(
            Topic.EARNINGS, _AFFILIATE, (PlayerPeriodValue, PlayerQualification, EventBatch),
            producers=(Node.EARNINGS,), consumers=(Node.COMMISSIONS,), batched=True,
            doc="Each player's value per period and CPA qualification, on their affiliate's"
            " partition (cumulative: the newest version wins).",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.COMMISSION_FLAGS, _AFFILIATE, (CommissionFlag,),
            producers=(Node.OPERATOR_SDK,), consumers=(Node.COMMISSIONS,),
            doc="Hold, release or claw back one player's commissions for one affiliate (fraud"
            " and CRM signals; docs/commissions.md).",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.COMMISSION_LEDGER, _AFFILIATE, (LedgerEntry,),
            producers=(Node.COMMISSIONS,), consumers=(Node.SINK_CLICKHOUSE,),
            doc="The commission ledger: append-only entries, one per record (partners may read"
            " it).",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.AFFILIATE_PLAYERS, _AFFILIATE, (AffiliatePlayerStatus,),
            producers=(Node.COMMISSIONS,), consumers=(Node.SINK_CLICKHOUSE,),
            doc="Each affiliate's players' CPA status and reason codes, whenever one changes"
            " (the newest version per player token wins; docs/affiliate-api.md).",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.IDENTITY_SIGHTINGS, Key("identifier (operator, kind, value)", _field("identifier")),
            (IdentifierSighting,), producers=(Node.IDENTITY,), consumers=(Node.IDENTIFIERS,),
            doc="Each identifier an account or a click was seen with, on the identifier's"
            " partition (docs/identity.md).",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.IDENTITY_INBOX, Key("brand_id:player_id (click_id for clicks)", _field("account")),
            (IdentityEvidence, ClickCandidate, ClickClaim, PersonLabel, UnmergeRequest),
            producers=(Node.IDENTIFIERS, Node.IDENTITY, Node.IDENTITY_ADMIN),
            consumers=(Node.IDENTITY,),
            doc="What reaches a brand account about its identity: evidence of the accounts it"
            " shares identifiers with, clicks seen on them, its merged neighbours' person, unmerges;"
            " and to a click, the accounts that named it (its page views are theirs).",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.IDENTITY_LINKS, _ACCOUNT, (IdentityLink,),
            producers=(Node.IDENTITY,), consumers=(Node.SINK_CLICKHOUSE,),
            doc="Scored pairs of accounts, merged or possible, with their reasons (the newest"
            " version per pair wins).",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.IDENTITY_PERSONS, _ACCOUNT, (PersonChange,),
            producers=(Node.IDENTITY,), consumers=(Node.SINK_CLICKHOUSE,),
            doc="The merge log: each account's first person (new), then each merge and unmerge.",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.IDENTITY_SIGNALS, Key("brand_id", _field("brand_id")), (MultiAccountSignal,),
            producers=(Node.IDENTITY,), consumers=(Node.SINK_CLICKHOUSE,),
            doc="Multi-account signals: accounts of one brand that look like one person.",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.IDENTITY_TOUCHPOINTS, _ACCOUNT, (TouchpointLink,),
            producers=(Node.IDENTITY,), consumers=(Node.SINK_CLICKHOUSE,),
            doc="The clicks on each brand account's path, from the identity graph.",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.PRIVACY_ERASURES, _ACCOUNT, (Erasure,),
            producers=(Node.IDENTITY,), consumers=(Node.SINK_CLICKHOUSE,),
            doc="Brand accounts erased from the graph: the sink destroys their keys, anonymises "
            "their rows and writes the certificates (docs/privacy.md#erasure).",
            retention_ms=-1,
        ),
        TopicSpec(
            Topic.DELIVERY_RETRIES, Key("endpoint_id (affiliate_id for revocations)", _retry_key),
            (DeliveryJob, PostbackRevocation),
            producers=(Node.SINK_POSTBACKS, Node.DELIVERIES_REPLAY),
            consumers=(Node.SINK_POSTBACKS,),
            doc="Deliveries waiting for a later attempt, and the revocations they must still see.",
            retention_ms=30 * _DAY,
        ),
        TopicSpec(
            Topic.DELIVERY_ATTEMPTS,
            Key("endpoint_id (affiliate_id for postbacks a stage suppressed)", _attempt_key),
            (DeliveryAttempt,),
            producers=(Node.SINK_POSTBACKS, Node.PLAYERS, Node.COMMISSIONS),
            consumers=(Node.SINK_CLICKHOUSE,),
            doc="Every delivery attempt and its outcome: the delivery log ClickHouse keeps.",
            retention_ms=7 * _DAY,
        ),
        TopicSpec(
            Topic.DEAD_LETTER, Key("the original key", _dead_letter_key), (DeadLetter,),
            producers=(Node.PLAYERS, Node.CLICKS, Node.SINK_CLICKHOUSE, Node.SINK_POSTBACKS),
            consumers=(Node.DELIVERIES_REPLAY,),
            doc="Records that failed: original bytes, topic/partition/offset, stage and reason.",
            retention_ms=30 * _DAY,
        ),
    )
}


def topic_name(settings: Prefixed, topic: Topic) -> str:
    return SPECS[topic].name(settings)


def all_topic_names(settings: Prefixed) -> list[str]:
    return [spec.name(settings) for spec in SPECS.values()]


def topics_by_name(settings: Prefixed) -> Mapping[str, Topic]:
    """Each full topic name's `Topic`: what a consumer's message says back into the registry."""
    return {spec.name(settings): topic for topic, spec in SPECS.items()}


# --- the wiring, read from the registry -------------------------------------------------------


def inputs_of(stage: Node) -> tuple[TopicSpec, ...]:
    """The topics `stage` reads, with their keys and records: what its declaration checks."""
    return tuple(spec for spec in SPECS.values() if stage in spec.consumers)


def outputs_of(stage: Node) -> tuple[TopicSpec, ...]:
    """The topics `stage` may write."""
    return tuple(spec for spec in SPECS.values() if stage in spec.producers)


def topics_consumed_by(stage: Node) -> tuple[Topic, ...]:
    """What `stage` subscribes to, in registry order."""
    return tuple(spec.topic for spec in inputs_of(stage))


def topics_produced_by(stage: Node) -> tuple[Topic, ...]:
    return tuple(spec.topic for spec in outputs_of(stage))


def accepted_records(stage: Node) -> tuple[type[Record], ...]:
    """The record classes `stage` may be handed, over all its inputs. Batch records are not
    among them: `clickpath.contracts.batches.unpack` turns one into the events it carries."""
    found = (cls for spec in inputs_of(stage) for cls in spec.records if cls is not EventBatch)
    return tuple(dict.fromkeys(found))


def check_emit(stage: Node, topic: Topic, record: Record) -> None:
    """Refuse an output the registry does not allow: `stage` is not a producer of `topic`, or
    `topic` does not carry `record`'s class (the stage would write what no reader expects)."""
    spec = SPECS[topic]
    if stage not in spec.producers:
        writers = ", ".join(spec.producers) or "no stage"
        raise TopologyError(
            f"stage {stage} may not write to {topic.value}: its producers are {writers}"
            f" (clickpath/contracts/topics.py)"
        )
    if not spec.carries(record):
        carried = ", ".join(cls.__name__ for cls in spec.records)
        raise TopologyError(
            f"{topic.value} does not carry {type(record).__name__} (stage {stage}): it carries"
            f" {carried}"
        )


def check_input(stage: Node, topic: Topic, key: str, record: Record) -> None:
    """Refuse an input the registry does not allow: `stage` does not read `topic`, `topic`
    does not carry `record`'s class, or `key` is not the record's key on `topic`. The
    messages are dead-letter reasons."""
    spec = SPECS[topic]
    if stage not in spec.consumers:
        raise TopologyError(f"stage {stage} does not read {topic.value}")
    if not spec.carries(record) or isinstance(record, EventBatch):
        raise TopologyError(f"{type(record).__name__} does not belong on {topic.value}")
    expected = spec.key.of(record)
    if key != expected:
        raise TopologyError(f"record key {key!r} must be {expected!r}")


def check_declaration(
    stage: Node, inputs: Iterable[Topic], accepts: Iterable[type[Record]] = ()
) -> None:
    """Refuse a stage declared against the registry: reading other topics than the registry
    gives it, accepting a record class none of its inputs carries, or not accepting one they
    carry (it would dead-letter every such record). A declared class accepts its subclasses (the
    player stage accepts `PlayerEvent`). Checked once, when the stage is built, so a wrong
    declaration stops the worker before it reads anything."""
    declared, wanted = set(inputs), set(topics_consumed_by(stage))
    if declared != wanted:
        missing = ", ".join(sorted(t.value for t in wanted - declared)) or "none"
        extra = ", ".join(sorted(t.value for t in declared - wanted)) or "none"
        raise TopologyError(
            f"stage {stage} is declared with other inputs than the registry's: missing {missing};"
            f" not the registry's {extra}"
        )
    accepted, carried = tuple(accepts), accepted_records(stage)
    unknown = [cls.__name__ for cls in accepted if not any(issubclass(c, cls) for c in carried)]
    if unknown:
        raise TopologyError(f"stage {stage} accepts {', '.join(unknown)}: none of its inputs carries it")
    refused = [cls.__name__ for cls in carried if accepted and not issubclass(cls, accepted)]
    if refused:
        raise TopologyError(
            f"stage {stage} does not accept {', '.join(refused)}, which its inputs carry"
        )
