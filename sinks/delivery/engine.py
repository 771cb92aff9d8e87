"""The delivery engine's process: consume, hand each record to intake, attempt, commit.

Reads the postbacks topic, the canonical events topic (once a webhook endpoint exists or
`webhooks_enabled`) and its own retry topic. Each delivery becomes a job in its endpoint's
lane (`lanes`), served by a few workers under the lane's rate limit and circuit breaker.
After an attempt, `attempts` decides what becomes of the job and `outcomes` records it;
`commits` commits offsets only past records whose deliveries all ended.

Everything the engine needs from outside is injected, so its decisions are tested without a
broker or a network: the clock (every time it reads), the HTTP client, the producer (attempts,
dead letters, parked jobs) and the consumer.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import structlog
from confluent_kafka import OFFSET_END, Consumer, Message, TopicPartition

from clickpath.contracts.batches import unpack
from clickpath.contracts.models import DeliveryJob, PostbackRevocation, Record
from clickpath.contracts.serde import Codec, DecodeError, build_codec
from clickpath.contracts.topics import Node, Topic, topic_name, topics_consumed_by
from clickpath.domain.endpoints import Endpoint
from clickpath.domain.retry_policy import RetryPolicy, endpoint_unwell
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.infra.kafka import consumer_config, make_producer
from clickpath.infra.limits import Clock
from clickpath.infra.metrics import CIRCUIT_STATES, ENDPOINT_CIRCUIT, ENDPOINT_RETRYING
from clickpath.infra.pseudonym_keys import stable_key
from clickpath.settings import Settings
from clickpath.sinks.delivery import ports
from clickpath.sinks.delivery.attempts import Outcome, OutcomeKind, after_answer, again, hold_s
from clickpath.sinks.delivery.commits import Commits
from clickpath.sinks.delivery.egress import EgressPolicy
from clickpath.sinks.delivery.intake import Revocations, jobs_for
from clickpath.sinks.delivery.lanes import Answer, Lane, Queued, Source
from clickpath.sinks.delivery.outcomes import Outcomes, due_again
from clickpath.sinks.delivery.render import request_for

log = structlog.get_logger(__name__)
INTERNAL_ERROR_RETRY_S = 60.0
HEALTH_EVERY_S = 1.0  # how often the lanes' health is published (`publish_health`)


def retry_policy(settings: Settings) -> RetryPolicy:
    """The schedule of `delivery_schedule_s`, or exponential backoff when it is null."""
    exponential = settings.delivery_schedule_s is None
    return RetryPolicy(
        schedule=settings.delivery_schedule_s, base_s=settings.postback_backoff_s,
        max_s=settings.postback_backoff_max_s if exponential else 24 * 3600.0,
        max_attempts=settings.postback_max_attempts if exponential else None,
    )


class DeliveryEngine:
    """Postbacks and webhooks, at least once, one lane per endpoint."""

    def __init__(
        self,
        settings: Settings,
        store: EndpointStore | None = None,
        codec: Codec | None = None,
        clock: Clock = time.time,
        http: httpx.AsyncClient | None = None,
        producer: ports.Producer | None = None,
        consumer: ports.Consumer | None = None,
        egress: EgressPolicy | None = None,
    ) -> None:
        """`clock`: Unix time. `http`: one client for every lane (by default each lane has a
        pool of its own, pinned to checked addresses)."""
        self.settings = settings
        self.codec = codec or build_codec(settings.schemas_dir, settings.schema_registry_url)
        # Consulted on every delivery: a change applies within 0.2 s.
        self.store = store or EndpointStore.from_settings(settings, recheck_s=0.2)
        self.clock = clock
        self.policy = retry_policy(settings)
        self.egress = egress or EgressPolicy(settings.egress_allow)
        self.http = http
        self.topics = {t: topic_name(settings, t) for t in Topic}
        self.producer = producer or make_producer(settings)
        self.consumer = consumer or Consumer(consumer_config(
            settings, "delivery", **{"fetch.wait.max.ms": settings.sink_fetch_wait_ms}
        ))
        self.commits = Commits(self.consumer, self.producer, clock, settings.delivery_commit_s,
                               settings.delivery_max_pending)
        self.outcomes = Outcomes(self.producer, self.codec, self.topics, self.store, clock, self.commits)
        self.revocations = Revocations(self.codec)
        self.lanes: dict[str, Lane] = {}
        self._seq = itertools.count()
        self._key = stable_key(settings)  # player tokens never rotate (docs/privacy.md)
        self._sources: list[str] = []
        self._running = False  # lanes get workers only while the engine runs
        self.stopping = threading.Event()
        self.assigned = threading.Event()  # partitions assigned: reading has begun

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # --- intake ------------------------------------------------------------------------------

    def accept(self, msg: Message) -> None:
        """One record read: its jobs go to their lanes; a revocation stops jobs; a record that
        cannot be decoded is dead-lettered. A batch record (canonical.events) is read as its
        events, each one's job carrying the event's own bytes; its offset is settled when the
        jobs of all of them are (a bad item is dead-lettered alone)."""
        source: Source = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
        queued: list[tuple[DeliveryJob, Record | None]] = []
        for item in unpack(self.codec, msg.key(), msg.value()):
            try:
                if item.record is None:
                    raise DecodeError(item.error or "no record")
                record = item.record
                jobs = jobs_for(record, item.value, self.store, self.now())
            except DecodeError as e:
                self.outcomes.undecodable(msg, str(e), item)
                continue
            if isinstance(record, PostbackRevocation):
                self.revoke(record, keep=msg.topic() == self.topics[Topic.POSTBACKS])
                continue
            decoded = None if isinstance(record, DeliveryJob) else record  # saves a decode per send
            queued += [(job, decoded) for job in jobs]
        self.commits.read(source, len(queued))
        for job, decoded in queued:
            self.lane(job.endpoint_id).push(
                Queued(job.due_at.timestamp(), next(self._seq), job, source, decoded)
            )

    def revoke(self, revocation: PostbackRevocation, keep: bool) -> None:
        """Drop the pending postbacks a revocation names, and remember it for later ones.

        `keep`: copy it to the retry topic (it was read from the postbacks topic), so that
        postbacks parked there meet it again after a restart.
        """
        self.revocations.add(revocation)
        if keep:
            self.outcomes.keep_revocation(revocation)
        endpoints = self.store.current()
        for lane in self.lanes.values():
            endpoint = endpoints.get(lane.endpoint_id)
            if endpoint is None or endpoint.affiliate_id != revocation.affiliate_id:
                continue
            for item in lane.remove(lambda it: self.revocations.reason(it.job, it.record) is not None):
                self.outcomes.finish(item, "suppressed", None, 0, revocation.reason, dead=False)

    # --- lanes ------------------------------------------------------------------------------

    def lane(self, endpoint_id: str) -> Lane:
        lane = self.lanes.get(endpoint_id)
        if lane is None:
            lane = self.lanes[endpoint_id] = Lane(endpoint_id, self.settings, self.clock, self.egress,
                                                  self.http)
            if self._running:
                self._start_workers(lane)
        return lane

    def _start_workers(self, lane: Lane) -> None:
        lane.workers = [
            asyncio.create_task(self._work(lane), name=f"lane-{lane.endpoint_id}-{i}")
            for i in range(self.settings.delivery_endpoint_concurrency)
        ]

    async def _work(self, lane: Lane) -> None:
        while True:
            await self._attempt_safely(lane, await lane.next_due())

    async def attempt_next(self, endpoint_id: str) -> bool:
        """Attempt the first job of the endpoint's lane that is due by the clock, if any (one
        step of a lane worker, for a caller that drives the engine by its own clock)."""
        lane = self.lanes.get(endpoint_id)
        item = lane.pop_due() if lane is not None else None
        if lane is None or item is None:
            return False
        await self._attempt_safely(lane, item)
        return True

    async def _attempt_safely(self, lane: Lane, item: Queued) -> None:
        try:
            await self.attempt(lane, item)
        except Exception:  # a bug must not kill the lane: park the job and say so
            log.exception("delivery_crashed", endpoint_id=lane.endpoint_id, job_id=item.job.job_id)
            self.outcomes.park(item, self.clock() + INTERNAL_ERROR_RETRY_S, "internal error")

    # --- one attempt ------------------------------------------------------------------------

    async def attempt(self, lane: Lane, item: Queued) -> None:
        """Attempt one job; or end it, or put it off, without an attempt."""
        job = item.job
        endpoint = self.store.current().get(job.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            invalid = self.store.invalid.get(job.endpoint_id)
            reason = (endpoint.disabled_reason if endpoint
                      else f"invalid: {invalid}" if invalid else "endpoint removed")
            self.outcomes.finish(item, "disabled", None, 0, f"endpoint disabled: {reason}", dead=True)
            return
        revoked = self.revocations.reason(job, item.record)
        if revoked is None and job.kind == "webhook" and self.revocations.reasons:
            record = item.record or self.codec.decode(job.record)
            revoked = self.revocations.for_webhook(endpoint, record, self._key)
        if revoked is not None:  # consent or RG changed after the postback (webhook) was made
            self.outcomes.finish(item, "suppressed", None, 0, revoked, dead=False)
            return
        hold = hold_s(lane.circuit.wait_s(), lane.circuit.state)  # a 0 after the cool-down: the probe
        if hold > 0:  # open: not an attempt; come back when a probe may go
            at = self.clock() + hold
            self._again(item, at, job.last_error or "circuit open", self._soon_or_parked(at))
            return
        wait = lane.bucket.take(1)
        if wait:
            await asyncio.sleep(wait)  # the endpoint's rate limit: its lane waits for a token
        request = request_for(endpoint, job, item.record or self.codec.decode(job.record), self._key,
                              self.now())
        if request is None:
            self.outcomes.finish(item, "suppressed", None, 0, "nothing to send", dead=False)
            return
        answer = await lane.send(request)
        if answer.refused is not None:  # final, and says nothing about the endpoint's health
            self.outcomes.finish(item, "refused", None, answer.latency_ms, answer.refused, dead=True)
            return
        if endpoint_unwell(answer.status):
            lane.circuit.record_failure()
        else:
            lane.circuit.record_success()
        outcome = after_answer(self.policy, job.attempt + 1, answer.status, answer.error,
                               answer.retry_after, self.clock(), self.settings.delivery_inline_retry_max_s)
        attempted = replace(item, job=job.model_copy(update={"attempt": job.attempt + 1}))
        self._carry_out(attempted, endpoint, outcome, answer)

    def _carry_out(self, item: Queued, endpoint: Endpoint, outcome: Outcome, answer: Answer) -> None:
        status, latency = answer.status, answer.latency_ms
        if outcome.kind is OutcomeKind.DELIVERED:
            self.outcomes.delivered(item, status, latency)
        elif outcome.kind in (OutcomeKind.RETRY_INLINE, OutcomeKind.PARK):
            assert outcome.at is not None and outcome.error is not None
            self.outcomes.attempted(item, "retry", status, latency, outcome.error)
            self._again(item, outcome.at, outcome.error, outcome.kind)
        elif outcome.kind is OutcomeKind.DISABLE:
            reason = f"HTTP {status} at {self.now():%Y-%m-%dT%H:%M:%SZ}: the partner says it is gone"
            self.store.disable(endpoint.endpoint_id, reason)
            log.warning("endpoint_disabled", endpoint_id=endpoint.endpoint_id, status=status)
            self.outcomes.finish(item, "disabled", status, latency, outcome.error, dead=True)
        else:
            self.outcomes.finish(item, "dead_letter", status, latency, outcome.error, dead=True)

    def _soon_or_parked(self, at: float) -> OutcomeKind:
        return again(at, self.clock(), self.settings.delivery_inline_retry_max_s)

    def _again(self, item: Queued, at: float, error: str, kind: OutcomeKind) -> None:
        """Due again at `at`: back into the lane (RETRY_INLINE) or parked on the retry topic.

        A postback revoked meanwhile (its attempt was in flight) ends here instead, so nothing
        revoked is parked after its revocation."""
        revoked = self.revocations.reason(item.job, item.record)
        if revoked is not None:
            self.outcomes.finish(item, "suppressed", None, 0, revoked, dead=False)
        elif kind is OutcomeKind.RETRY_INLINE:
            job = due_again(item.job, at, error)
            self.lane(job.endpoint_id).push(Queued(at, next(self._seq), job, item.source, item.record))
        else:
            self.outcomes.park(item, at, error)

    def publish_health(self) -> None:
        """Each lane's retrying jobs and circuit, as gauges (`up`'s status line and `postbacks
        list` read them; Prometheus alerts on them). Counted from the lanes, about once a
        second: cheaper than keeping counts right through every push, pop and removal."""
        for endpoint_id, lane in self.lanes.items():
            ENDPOINT_RETRYING.labels(endpoint_id).set(lane.retrying())
            ENDPOINT_CIRCUIT.labels(endpoint_id).set(CIRCUIT_STATES.index(lane.circuit.state.value))

    # --- the consumer loop ------------------------------------------------------------------

    def _wants_webhooks(self) -> bool:
        return self.settings.webhooks_enabled or any(
            e.kind == "webhook" for e in self.store.current().values()
        )

    def _subscribe(self) -> None:
        # Canonical events only feed webhooks: read from the first webhook endpoint on.
        sources = [self.topics[t] for t in topics_consumed_by(Node.SINK_POSTBACKS)
                   if t is not Topic.CANONICAL or self._wants_webhooks()]
        self._sources = sources
        self.consumer.subscribe(sources, on_assign=self._on_assign, on_revoke=self.commits.on_revoke)
        log.info("delivery_subscribed", topics=sources)

    async def run(self) -> None:
        """Consume and deliver until `stopping` is set; then commit what ended and close."""
        self._running = True
        for lane in self.lanes.values():
            self._start_workers(lane)
        self._subscribe()
        health_at = self.clock()
        try:
            while not self.stopping.is_set():
                if self.commits.full():
                    await self.commits.wait_for_drain()  # back-pressure: intake waits for the lanes
                    continue
                messages = await asyncio.to_thread(self.consumer.consume, 500, 0.05)
                for msg in messages:
                    if msg.error():
                        log.warning("consume_error", error=str(msg.error()))
                        continue
                    self.accept(msg)
                self.commits.forget_revoked()
                if self.clock() >= health_at or self.clock() < health_at - HEALTH_EVERY_S:
                    self.publish_health()
                    health_at = self.clock() + HEALTH_EVERY_S
                if self.commits.due():
                    await self.commits.commit()
                    if self.topics[Topic.CANONICAL] not in self._sources and self._wants_webhooks():
                        self._subscribe()  # the first webhook endpoint was just added
                await asyncio.sleep(0)  # let the lanes run
            await self.commits.commit()
        finally:
            self.publish_health()
            self._running = False
            for lane in self.lanes.values():
                await lane.close()
            if self.http is not None:
                await self.http.aclose()
            self.producer.flush(10)
            self.consumer.close()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Webhooks start from now: a canonical partition this group never read starts at its
        end, not at the beginning of history."""
        canonical = self.topics[Topic.CANONICAL]
        fresh = [p for p in consumer.committed(partitions, timeout=10)
                 if p.topic == canonical and p.offset < 0]
        for p in partitions:
            if any(f.partition == p.partition and f.topic == p.topic for f in fresh):
                p.offset = OFFSET_END
        consumer.assign(partitions)
        self.assigned.set()
        log.info("delivery_assigned", partitions=len(partitions))


def run_delivery_engine(settings: Settings) -> None:
    """Run the delivery engine until SIGINT/SIGTERM."""
    import signal

    async def main() -> None:
        engine = DeliveryEngine(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, engine.stopping.set)
        await engine.run()

    asyncio.run(main())
