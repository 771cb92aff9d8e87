"""The delivery engine: postbacks and webhooks, at least once, one lane per endpoint.

Reads the postbacks topic (postback endpoints of the affiliate), the canonical events topic
(webhook endpoints) and its own retry topic. Each delivery becomes a job with a stable id and
goes into its endpoint's lane: a queue ordered by due time, served by a few workers under the
endpoint's own rate limit and circuit breaker. A dead or slow endpoint therefore holds only
its own lane; the others go on. Offsets are committed only past records whose deliveries all
ended (`OffsetTracker`), after flushing what was produced for them.

After an attempt the retry policy decides: delivered; retry soon (back into the lane); retry
later (parked on the retry topic, which this process reads back, so the source can commit);
give up (a dead letter carrying the job, for `clickpath deliveries replay`); or, on 410,
disable the endpoint. Every attempt is logged to the attempts topic, which the ClickHouse
sink writes to `delivery_attempts`. Every request is checked by the SSRF guard first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import structlog
from clickpath.sinks.base import dead_letter_of
from clickpath.sinks.circuit import CircuitBreaker, CircuitState
from clickpath.sinks.delivery_render import OutboundRequest, render_postback, render_webhook, webhook_data
from clickpath.sinks.egress import EgressPolicy, EgressRefused, PinnedTransport, guarded_request
from clickpath.sinks.offsets import OffsetTracker
from confluent_kafka import OFFSET_END, Consumer, Message, TopicPartition

from clickpath.contracts.models import (
    CanonicalEvent,
    DeadLetter,
    DeliveryAttempt,
    DeliveryJob,
    Postback,
    PostbackRevocation,
    Record,
)
from clickpath.contracts.serde import Codec, DecodeError, build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.domain.endpoints import Endpoint
from clickpath.domain.players import player_token
from clickpath.domain.retry_policy import Decision, DecisionKind, RetryPolicy
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.infra.kafka import consumer_config, make_producer
from clickpath.infra.limits import TokenBucket
from clickpath.infra.metrics import (
    DEAD_LETTERS,
    DELIVERIES_PENDING,
    DELIVERY_ATTEMPTS,
    DELIVERY_OUTCOMES,
    observe_event_latency,
)
from clickpath.settings import Settings

log = structlog.get_logger(__name__)
Clock = Callable[[], float]


def job_id(source_id: str, endpoint_id: str) -> str:
    """The delivery's idempotency id: the same for every attempt and every replay."""
    return hashlib.sha256(f"{source_id}|{endpoint_id}".encode()).hexdigest()[:32]


def webhook_event(e: CanonicalEvent) -> str | None:
    """Which webhook event a canonical event is, if any."""
    if e.event_type == "registration":
        return "registration"
    if e.event_type == "deposit" and e.is_ftd:
        return "ftd"
    if e.event_type == "kyc":
        return "kyc_changed"
    return None


@dataclass(order=True)
class _Queued:
    due: float
    seq: int
    job: DeliveryJob = field(compare=False)
    source: tuple[str, int, int] = field(compare=False)  # topic, partition, offset
    record: Record | None = field(default=None, compare=False)  # job.record decoded, if known


class Lane:
    """One endpoint's queue, ordered by due time, with its rate limit, circuit breaker and
    connection pool (a pool of its own: a hanging partner holds only its own connections, and
    httpcore's per-request pool scan stays as small as the lane)."""

    def __init__(self, endpoint_id: str, settings: Settings, clock: Clock,
                 egress: EgressPolicy, http: httpx.AsyncClient | None = None) -> None:
        self.endpoint_id = endpoint_id
        size = settings.delivery_endpoint_concurrency
        self.http = http or httpx.AsyncClient(
            timeout=settings.postback_timeout_s,
            # Every connection goes to an address the guard checked (no DNS-rebinding window).
            transport=PinnedTransport(egress, limits=httpx.Limits(
                max_connections=size, max_keepalive_connections=size)),
        )
        self.owns_http = http is None
        self.heap: list[_Queued] = []
        self.wakeup = asyncio.Event()
        self.bucket = TokenBucket(settings.delivery_rate_per_s, settings.delivery_rate_burst, clock)
        self.circuit = CircuitBreaker(
            failure_threshold=settings.circuit_failures, cooldown_s=settings.circuit_cooldown_s,
            max_cooldown_s=max(settings.circuit_cooldown_s, 1800.0), clock=clock,
        )
        self.workers: list[asyncio.Task[None]] = []

    def push(self, item: _Queued) -> None:
        heapq.heappush(self.heap, item)
        self.wakeup.set()


class Dispatcher:
    stage = "delivery"

    def __init__(
        self,
        settings: Settings,
        store: EndpointStore | None = None,
        codec: Codec | None = None,
        clock: Clock = time.time,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.codec = codec or build_codec(settings.schemas_dir, settings.schema_registry_url)
        # Consulted on every delivery: a change applies within 0.2 s.
        self.store = store or EndpointStore.from_settings(settings, recheck_s=0.2)
        self.clock = clock
        exponential = settings.delivery_schedule_s is None
        self.policy = RetryPolicy(
            schedule=settings.delivery_schedule_s, base_s=settings.postback_backoff_s,
            max_s=settings.postback_backoff_max_s if exponential else 24 * 3600.0,
            max_attempts=settings.postback_max_attempts if exponential else None,
        )
        self.egress = EgressPolicy(settings.egress_allow)
        self.http = http  # tests may share one client across lanes
        self.topics = {t: topic_name(settings, t) for t in Topic}
        self.tracker = OffsetTracker()
        self.lanes: dict[str, Lane] = {}
        self.producer = make_producer(settings)
        self.consumer = Consumer(consumer_config(settings, "delivery"))
        self._seq = itertools.count()
        self._key = settings.pseudonym_key.get_secret_value().encode()
        self._revoked: list[tuple[str, int]] = []
        self.revoked: dict[tuple[str, str], str] = {}  # (affiliate, player token) -> why
        self._sources: list[str] = []
        self._drained = asyncio.Event()
        self.stopping = threading.Event()
        self.assigned = threading.Event()  # partitions assigned: reading has begun

    # --- intake ------------------------------------------------------------------------------

    def jobs_for(self, record: Record, raw: bytes) -> list[DeliveryJob]:
        """The deliveries a record (`raw`: its bytes as read) asks for (none when no endpoint
        subscribes)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        if isinstance(record, DeliveryJob):
            return [record]
        if isinstance(record, Postback):
            endpoints = self.store.for_postback(record.affiliate_id, record.event)
            source_id, event, occurred = record.postback_id, record.event, record.occurred_at
        elif isinstance(record, CanonicalEvent):
            event = webhook_event(record)
            if event is None:
                return []
            endpoints = self.store.for_webhook(event, record.brand_id, record.affiliate_id)
            source_id, occurred = f"{record.event_id}|{event}", record.occurred_at
        else:
            return []
        return [
            DeliveryJob(
                job_id=job_id(source_id, e.endpoint_id), endpoint_id=e.endpoint_id, kind=e.kind,
                event=event, attempt=0, due_at=now, created_at=now, occurred_at=occurred,
                record=raw,
            )
            for e in endpoints
        ]

    def accept(self, msg: Message) -> None:
        tp, offset = (msg.topic(), msg.partition()), msg.offset()
        try:
            raw = msg.value() or b""
            record = self.codec.decode(raw)
            jobs = self.jobs_for(record, raw)
        except DecodeError as e:
            self.tracker.add(tp, offset, 0)
            self._dead_letter_raw(msg, str(e))
            return
        if isinstance(record, PostbackRevocation):
            self.tracker.add(tp, offset, 0)
            self.revoke(record, keep=msg.topic() == self.topics[Topic.POSTBACKS])
            return
        self.tracker.add(tp, offset, len(jobs))
        decoded = None if isinstance(record, DeliveryJob) else record  # saves a decode per send
        for job in jobs:
            self._lane(job.endpoint_id).push(
                _Queued(job.due_at.timestamp(), next(self._seq), job, (*tp, offset), decoded)
            )

    def revoke(self, revocation: PostbackRevocation, keep: bool) -> None:
        """Drop the pending postbacks a revocation names, and remember it for later ones.

        `keep`: copy it to the retry topic, so that postbacks parked there meet it again after
        a restart (that topic is re-read from before its oldest pending job, unlike the source).
        """
        key = (revocation.affiliate_id, revocation.player_token)
        self.revoked[key] = revocation.reason
        if keep:
            self.producer.produce(self.topics[Topic.DELIVERY_RETRIES],
                                  key=revocation.affiliate_id.encode(),
                                  value=self.codec.encode(revocation))
        endpoints = self.store.current()
        for lane in self.lanes.values():
            endpoint = endpoints.get(lane.endpoint_id)
            if endpoint is None or endpoint.affiliate_id != revocation.affiliate_id:
                continue
            keep_items = []
            for item in lane.heap:
                if self._revoked_reason(item) is None:
                    keep_items.append(item)
                else:
                    self._finish(item, "suppressed", None, 0, revocation.reason, dead=False)
            heapq.heapify(keep_items)
            lane.heap = keep_items

    def _revoked_reason(self, item: _Queued) -> str | None:
        if item.job.kind != "postback" or not self.revoked:
            return None
        record = item.record or self.codec.decode(item.job.record)
        if not isinstance(record, Postback):
            return None
        return self.revoked.get((record.affiliate_id, record.player_token))

    def _lane(self, endpoint_id: str) -> Lane:
        lane = self.lanes.get(endpoint_id)
        if lane is None:
            lane = self.lanes[endpoint_id] = Lane(
                endpoint_id, self.settings, self.clock, self.egress, self.http
            )
            lane.workers = [
                asyncio.create_task(self._work(lane), name=f"lane-{endpoint_id}-{i}")
                for i in range(self.settings.delivery_endpoint_concurrency)
            ]
        return lane

    # --- one lane's workers ------------------------------------------------------------------

    async def _next_due(self, lane: Lane) -> _Queued:
        while True:
            if lane.heap:
                wait = lane.heap[0].due - self.clock()
                if wait <= 0:
                    return heapq.heappop(lane.heap)
            else:
                wait = None
            lane.wakeup.clear()
            with contextlib.suppress(TimeoutError):  # a timeout: the head became due
                await asyncio.wait_for(lane.wakeup.wait(), timeout=wait)

    async def _work(self, lane: Lane) -> None:
        while True:
            item = await self._next_due(lane)
            try:
                await self._attempt(lane, item)
            except Exception:  # a bug must not kill the lane: park the job and say so
                log.exception("delivery_crashed", endpoint_id=lane.endpoint_id, job_id=item.job.job_id)
                self._park(item, self.clock() + 60, "internal error")

    async def _attempt(self, lane: Lane, item: _Queued) -> None:
        job = item.job
        endpoint = self.store.current().get(job.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            reason = endpoint.disabled_reason if endpoint else "endpoint removed"
            self._finish(item, "disabled", None, 0, f"endpoint disabled: {reason}", dead=True)
            return
        revoked = self._revoked_reason(item)
        if revoked is not None:  # consent or RG changed after the postback was made
            self._finish(item, "suppressed", None, 0, revoked, dead=False)
            return
        wait = lane.circuit.wait_s()  # a 0 after the cool-down is the one probe
        if wait > 0:  # open: not an attempt; come back when a probe may go
            if lane.circuit.state is CircuitState.HALF_OPEN:
                wait = min(wait, 0.25)  # the probe's answer may close it any moment
            self._reschedule(item, self.clock() + wait, job.last_error or "circuit open")
            return
        wait = lane.bucket.take(1)
        if wait:
            await asyncio.sleep(wait)  # the endpoint's rate limit: its lane waits for a token
        request = self._render(endpoint, job, item.record)
        if request is None:
            self._finish(item, "suppressed", None, 0, "nothing to send", dead=False)
            return
        started = time.perf_counter()
        status, error, retry_after = None, None, None
        try:
            response = await guarded_request(
                lane.http, self.egress, request.method, request.url,
                headers=request.headers, content=request.content,
            )
            status, retry_after = response.status_code, response.headers.get("retry-after")
        except EgressRefused as e:
            self._finish(item, "refused", None, _ms(started), f"refused by the egress guard: {e}",
                         dead=True)
            return
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        latency = _ms(started)
        decision = self.policy.decide(job.attempt + 1, status, error, retry_after, self.clock())
        if status is not None and (status < 500 and status not in (408, 429)):
            lane.circuit.record_success()
        else:
            lane.circuit.record_failure()
        self._after(item, endpoint, decision, status, latency, error or f"HTTP {status}")

    def _after(self, item: _Queued, endpoint: Endpoint, decision: Decision, status: int | None,
               latency: int, error: str) -> None:
        job = item.job.model_copy(update={"attempt": item.job.attempt + 1})
        item = _Queued(item.due, item.seq, job, item.source, item.record)
        if decision.kind is DecisionKind.DELIVERED:
            self._finish(item, "delivered", status, latency, None, dead=False)
            observe_event_latency(f"{job.kind}_delivered", job.occurred_at)
            if job.kind == "postback":
                observe_event_latency("postback_delivered", job.occurred_at)
        elif decision.kind is DecisionKind.RETRY:
            self._log_attempt(item, "retry", status, latency, error)
            self._reschedule(item, decision.at, error)
        elif decision.kind is DecisionKind.DISABLE_ENDPOINT:
            reason = f"HTTP {status} at {_now_iso()}: the partner says it is gone"
            self.store.disable(endpoint.endpoint_id, reason)
            log.warning("endpoint_disabled", endpoint_id=endpoint.endpoint_id, status=status)
            self._finish(item, "disabled", status, latency, error, dead=True)
        else:
            self._finish(item, "dead_letter", status, latency, error, dead=True)

    def _render(self, endpoint: Endpoint, job: DeliveryJob, record: Record | None) -> OutboundRequest | None:
        record = record or self.codec.decode(job.record)
        now = datetime.fromtimestamp(self.clock(), UTC)
        if isinstance(record, Postback):
            return render_postback(endpoint, record, job.job_id, now)
        if isinstance(record, CanonicalEvent):
            token = None
            if endpoint.affiliate_id is not None:
                token = player_token(self._key, endpoint.affiliate_id, record.person_id)
            return render_webhook(endpoint, job.event, webhook_data(record, job.event, token),
                                  job.job_id, now)
        return None

    # --- endings ----------------------------------------------------------------------------

    def _reschedule(self, item: _Queued, at: float, error: str) -> None:
        """Retry soon in the lane; later on the retry topic, so the source can commit.

        A postback revoked meanwhile (its attempt was in flight) ends here instead, so nothing
        revoked is parked after its revocation."""
        revoked = self._revoked_reason(item)
        if revoked is not None:
            self._finish(item, "suppressed", None, 0, revoked, dead=False)
            return
        job = item.job.model_copy(update={"due_at": datetime.fromtimestamp(at, UTC),
                                          "last_error": error[:500]})
        if at - self.clock() <= self.settings.delivery_inline_retry_max_s:
            self._lane(job.endpoint_id).push(_Queued(at, next(self._seq), job, item.source, item.record))
        else:
            self._park(_Queued(at, item.seq, job, item.source), at, error)

    def _park(self, item: _Queued, at: float, error: str) -> None:
        job = item.job.model_copy(update={"due_at": datetime.fromtimestamp(at, UTC),
                                          "last_error": error[:500]})
        self.producer.produce(self.topics[Topic.DELIVERY_RETRIES], key=job.endpoint_id.encode(),
                              value=self.codec.encode(job))
        self._settle(item)

    def _finish(self, item: _Queued, outcome: str, status: int | None, latency: int,
                error: str | None, dead: bool) -> None:
        self._log_attempt(item, outcome, status, latency, error)
        DELIVERY_OUTCOMES.labels(item.job.kind, outcome).inc()
        if dead:
            record = DeadLetter.of(
                key=item.job.endpoint_id.encode(), value=self.codec.encode(item.job),
                topic=item.source[0], partition=item.source[1], offset=item.source[2],
                stage=self.stage, reason=f"{item.job.endpoint_id}: {error}",
                at=datetime.fromtimestamp(self.clock(), UTC),
            )
            self.producer.produce(self.topics[Topic.DEAD_LETTER], key=record.original_key,
                                  value=self.codec.encode(record))
            DEAD_LETTERS.labels(self.stage).inc()
            log.warning("delivery_dead_letter", endpoint_id=item.job.endpoint_id,
                        job_id=item.job.job_id, reason=error)
        self._settle(item)

    def _log_attempt(self, item: _Queued, outcome: str, status: int | None, latency: int,
                     error: str | None) -> None:
        job = item.job
        endpoint = self.store.current().get(job.endpoint_id)
        attempt = DeliveryAttempt(
            job_id=job.job_id, endpoint_id=job.endpoint_id, kind=job.kind, event=job.event,
            affiliate_id=endpoint.affiliate_id if endpoint else None,
            brand_id=endpoint.brand_id if endpoint else None, attempt=job.attempt,
            status=status, latency_ms=latency, outcome=outcome,  # type: ignore[arg-type]
            error=error[:500] if error else None, attempted_at=datetime.now(UTC),
        )
        self.producer.produce(self.topics[Topic.DELIVERY_ATTEMPTS], key=job.endpoint_id.encode(),
                              value=self.codec.encode(attempt))
        DELIVERY_ATTEMPTS.labels(job.kind, outcome).inc()

    def _settle(self, item: _Queued) -> None:
        topic, partition, offset = item.source
        self.tracker.settle((topic, partition), offset)
        if self.tracker.open_deliveries() < self.settings.delivery_max_pending // 2:
            self._drained.set()

    def _dead_letter_raw(self, msg: Message, reason: str) -> None:
        record = dead_letter_of(msg, self.stage, reason)
        self.producer.produce(self.topics[Topic.DEAD_LETTER], key=msg.key(),
                              value=self.codec.encode(record))
        DEAD_LETTERS.labels(self.stage).inc()

    # --- the consumer loop ------------------------------------------------------------------

    def _wants_webhooks(self) -> bool:
        return self.settings.webhooks_enabled or any(
            e.kind == "webhook" for e in self.store.current().values()
        )

    def _subscribe(self) -> None:
        sources = [self.topics[Topic.POSTBACKS], self.topics[Topic.DELIVERY_RETRIES]]
        if self._wants_webhooks():
            sources.append(self.topics[Topic.CANONICAL])
        self._sources = sources
        self.consumer.subscribe(sources, on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info("delivery_subscribed", topics=sources)

    async def run(self) -> None:
        self._subscribe()
        last_commit = time.monotonic()
        try:
            while not self.stopping.is_set():
                if self.tracker.open_deliveries() >= self.settings.delivery_max_pending:
                    await self._commit()  # back-pressure: intake waits for the lanes to drain
                    self._drained.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._drained.wait(), self.settings.delivery_commit_s)
                    continue
                messages = await asyncio.to_thread(self.consumer.consume, 500, 0.05)
                for msg in messages:
                    if msg.error():
                        log.warning("consume_error", error=str(msg.error()))
                        continue
                    self.accept(msg)
                if self._revoked:
                    self.tracker.revoke(self._revoked)
                    self._revoked = []
                if time.monotonic() - last_commit >= self.settings.delivery_commit_s:
                    await self._commit()
                    last_commit = time.monotonic()
                    if self.topics[Topic.CANONICAL] not in self._sources and self._wants_webhooks():
                        self._subscribe()  # the first webhook endpoint was just added
                await asyncio.sleep(0)  # let the lanes run
            await self._commit()
        finally:
            for lane in self.lanes.values():
                for task in lane.workers:
                    task.cancel()
                if lane.owns_http:
                    await lane.http.aclose()
            if self.http is not None:
                await self.http.aclose()
            self.producer.flush(10)
            self.consumer.close()

    async def _commit(self) -> None:
        """Flush what was produced for settled records, then commit past them."""
        offsets = self.tracker.committable()
        if not offsets:
            return
        remaining = await asyncio.to_thread(self.producer.flush, 30)
        if remaining:
            log.warning("delivery_flush_incomplete", remaining=remaining)
            return
        await asyncio.to_thread(
            self.consumer.commit,
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
            asynchronous=False,
        )
        self.tracker.committed(offsets)
        DELIVERIES_PENDING.labels(self.stage).set(self.tracker.open_deliveries())

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

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._revoked.extend((p.topic, p.partition) for p in partitions)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_dispatcher(settings: Settings) -> None:
    """Run the delivery engine until SIGINT/SIGTERM."""
    import signal

    async def main() -> None:
        dispatcher = Dispatcher(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, dispatcher.stopping.set)
        await dispatcher.run()

    asyncio.run(main())
