"""How a delivery's attempts and endings are recorded: the attempts topic, the retry topic,
dead letters, metrics, and the settling of the record the delivery came from.

Every attempt (and every ending without one: suppressed, disabled, refused) is logged to the
attempts topic, which the ClickHouse sink writes to `delivery_attempts`. A dead letter carries
the whole job (`DeadLetter.of`), so that `clickpath deliveries replay` sends it again with the
same id. A parked job goes to the retry topic with its due time; this process reads it back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from confluent_kafka import Message

from clickpath.contracts.batches import Unpacked
from clickpath.contracts.models import (
    CanonicalEvent,
    DeadLetter,
    DeliveryAttempt,
    DeliveryJob,
    Postback,
    PostbackRevocation,
    Webhook,
)
from clickpath.contracts.serde import Codec, DecodeError
from clickpath.contracts.topics import Topic
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.infra.limits import Clock
from clickpath.infra.metrics import (
    DEAD_LETTERS,
    DELIVERY_ATTEMPTS,
    DELIVERY_OUTCOMES,
    ENDPOINT_DELIVERIES,
    EVENT_LATENCY,
)
from clickpath.sinks.base import dead_letter_of
from clickpath.sinks.delivery.commits import STAGE, Commits
from clickpath.sinks.delivery.lanes import Queued
from clickpath.sinks.delivery.ports import Producer

log = structlog.get_logger(__name__)
ERROR_MAX = 500  # an error kept with a job or an attempt; the dead letter's reason may be longer


class Outcomes:
    def __init__(self, producer: Producer, codec: Codec, topics: dict[Topic, str],
                 store: EndpointStore, clock: Clock, commits: Commits) -> None:
        self.producer, self.codec, self.topics = producer, codec, topics
        self.store, self.clock, self.commits = store, clock, commits

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def delivered(self, item: Queued, status: int | None, latency_ms: int) -> None:
        """Delivered: logged, counted, and clickpath's latency observed once: from when the
        event was received (a job made before jobs carried it: from when the job was made),
        never from its event time, which an import or a backdated event puts days back."""
        self.finish(item, "delivered", status, latency_ms, None, dead=False)
        since = self.clock() - (item.job.received_at or item.job.created_at).timestamp()
        EVENT_LATENCY.labels(f"{item.job.kind}_delivered").observe(max(since, 0.0))

    def finish(self, item: Queued, outcome: str, status: int | None, latency_ms: int,
               error: str | None, dead: bool) -> None:
        """The delivery ended: log it, dead-letter it when `dead`, settle its record."""
        self.attempted(item, outcome, status, latency_ms, error)
        DELIVERY_OUTCOMES.labels(item.job.kind, outcome).inc()
        ENDPOINT_DELIVERIES.labels(item.job.endpoint_id, outcome).inc()
        if dead:
            self._dead_letter(item, error)
        self.commits.settle(item.source)

    def park(self, item: Queued, at: float, error: str) -> None:
        """Put the job on the retry topic, due at `at`; the delivery ends here for its record."""
        job = due_again(item.job, at, error)
        self.producer.produce(self.topics[Topic.DELIVERY_RETRIES], key=job.endpoint_id.encode(),
                              value=self.codec.encode(job))
        self.commits.settle(item.source)

    def attempted(self, item: Queued, outcome: str, status: int | None, latency_ms: int,
                  error: str | None) -> None:
        """Log one attempt (or an ending without one) to the attempts topic."""
        job = item.job
        endpoint = self.store.current().get(job.endpoint_id)
        attempt = DeliveryAttempt(
            job_id=job.job_id, endpoint_id=job.endpoint_id, kind=job.kind, event=job.event,
            affiliate_id=endpoint.affiliate_id if endpoint else None,
            brand_id=self._brand_of(item) or (endpoint.brand_id if endpoint else None), attempt=job.attempt,
            status=status, latency_ms=latency_ms, outcome=outcome,
            error=error[:ERROR_MAX] if error else None, attempted_at=self.now(),
        )
        self.producer.produce(self.topics[Topic.DELIVERY_ATTEMPTS], key=job.endpoint_id.encode(),
                              value=self.codec.encode(attempt))
        DELIVERY_ATTEMPTS.labels(job.kind, outcome).inc()

    def _brand_of(self, item: Queued) -> str | None:
        """The brand of the conversion or event delivered: the delivery log is read per brand
        (the `delivery_log` view, scoped like the other analyst views), and a postback
        endpoint belongs to an affiliate, not a brand. Decoded here only for a job read back
        from the retry topic (the others carry their record decoded)."""
        record = item.record
        if record is None:
            try:
                record = self.codec.decode(item.job.record)
            except DecodeError:
                return None
        return record.brand_id if isinstance(record, Postback | CanonicalEvent | Webhook) else None

    def keep_revocation(self, revocation: PostbackRevocation) -> None:
        """Copy a revocation to the retry topic, so that parked postbacks meet it again after a
        restart (that topic is re-read from before its oldest pending job, unlike the source)."""
        self.producer.produce(self.topics[Topic.DELIVERY_RETRIES],
                              key=revocation.affiliate_id.encode(), value=self.codec.encode(revocation))

    def undecodable(self, msg: Message, reason: str, item: Unpacked | None = None) -> None:
        """A record that cannot be read: dead-lettered whole, bytes as read (`item`: only that
        item of a batch record, with its index)."""
        letter = dead_letter_of(msg, STAGE, reason, item)
        self.producer.produce(self.topics[Topic.DEAD_LETTER], key=letter.original_key,
                              value=self.codec.encode(letter))
        DEAD_LETTERS.labels(STAGE).inc()

    def _dead_letter(self, item: Queued, error: str | None) -> None:
        topic, partition, offset = item.source
        letter = DeadLetter.of(
            key=item.job.endpoint_id.encode(), value=self.codec.encode(item.job),
            topic=topic, partition=partition, offset=offset,
            stage=STAGE, reason=f"{item.job.endpoint_id}: {error}", at=self.now(),
        )
        self.producer.produce(self.topics[Topic.DEAD_LETTER], key=letter.original_key,
                              value=self.codec.encode(letter))
        DEAD_LETTERS.labels(STAGE).inc()
        log.warning("delivery_dead_letter", endpoint_id=item.job.endpoint_id,
                    job_id=item.job.job_id, reason=error)


def due_again(job: DeliveryJob, at: float, error: str) -> DeliveryJob:
    """The job, due at `at` (Unix time), with the error that delayed it."""
    return job.model_copy(update={"due_at": datetime.fromtimestamp(at, UTC), "last_error": error[:ERROR_MAX]})
