"""One lane per endpoint: its queue ordered by due time, rate limit, circuit breaker and pool.

A dead or slow endpoint holds only its own lane; the others go on. The lane's connection pool
is its own too: a hanging partner holds only its own connections, and httpcore's per-request
pool scan stays as small as the lane. Every connection goes through `PinnedTransport`, so it
reaches only an address the egress guard has just checked (no DNS-rebinding window).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from clickpath.contracts.models import DeliveryJob, Record
from clickpath.infra.limits import Clock, TokenBucket
from clickpath.settings import Settings
from clickpath.sinks.delivery.circuit import CircuitBreaker
from clickpath.sinks.delivery.egress import EgressPolicy, EgressRefused, PinnedTransport, guarded_request
from clickpath.sinks.delivery.render import OutboundRequest

Source = tuple[str, int, int]  # topic, partition, offset of the record a job came from


@dataclass(order=True)
class Queued:
    """A job waiting in its lane, ordered by due time (Unix), then by arrival."""

    due: float
    seq: int
    job: DeliveryJob = field(compare=False)
    source: Source = field(compare=False)
    record: Record | None = field(default=None, compare=False)  # job.record decoded, if known


@dataclass(frozen=True)
class Answer:
    """What one request came back with: a status (and Retry-After), a network error, or a
    refusal by the egress guard (final); `latency_ms` by the engine's clock."""

    status: int | None = None
    retry_after: str | None = None
    error: str | None = None
    refused: str | None = None
    latency_ms: int = 0


class Lane:
    def __init__(self, endpoint_id: str, settings: Settings, clock: Clock, egress: EgressPolicy,
                 http: httpx.AsyncClient | None = None) -> None:
        """`http`: a client shared by every lane (tests); by default the lane makes its own."""
        self.endpoint_id = endpoint_id
        self.clock, self.egress = clock, egress
        size = settings.delivery_endpoint_concurrency
        self.http = http or httpx.AsyncClient(
            timeout=settings.postback_timeout_s,
            transport=PinnedTransport(egress, limits=httpx.Limits(
                max_connections=size, max_keepalive_connections=size)),
        )
        self.owns_http = http is None
        self.heap: list[Queued] = []
        self.wakeup = asyncio.Event()
        self.bucket = TokenBucket(settings.delivery_rate_per_s, settings.delivery_rate_burst, clock)
        self.circuit = CircuitBreaker(
            failure_threshold=settings.circuit_failures, cooldown_s=settings.circuit_cooldown_s,
            max_cooldown_s=max(settings.circuit_cooldown_s, 1800.0), clock=clock,
        )
        self.workers: list[asyncio.Task[None]] = []

    def push(self, item: Queued) -> None:
        heapq.heappush(self.heap, item)
        self.wakeup.set()

    def pop_due(self) -> Queued | None:
        """The first job due by the clock, taken out of the lane; None when none is due."""
        if self.heap and self.heap[0].due <= self.clock():
            return heapq.heappop(self.heap)
        return None

    def remove(self, drop: Callable[[Queued], bool]) -> list[Queued]:
        """Take out the jobs `drop` selects, and return them."""
        kept: list[Queued] = []
        dropped: list[Queued] = []
        for item in self.heap:
            (dropped if drop(item) else kept).append(item)
        if dropped:
            heapq.heapify(kept)
            self.heap = kept
        return dropped

    async def next_due(self) -> Queued:
        """Wait for the first job to be due (or for an earlier one to arrive), and take it."""
        while True:
            item = self.pop_due()
            if item is not None:
                return item
            wait = self.heap[0].due - self.clock() if self.heap else None
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):  # a timeout: the head became due
                await asyncio.wait_for(self.wakeup.wait(), timeout=wait)

    async def send(self, request: OutboundRequest) -> Answer:
        """Make one request through the egress guard, following checked redirects."""
        started = self.clock()
        try:
            response = await guarded_request(
                self.http, self.egress, request.method, request.url,
                headers=request.headers, content=request.content,
            )
        except EgressRefused as e:
            return Answer(refused=f"refused by the egress guard: {e}", latency_ms=self._ms(started))
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            return Answer(error=error, latency_ms=self._ms(started))
        return Answer(status=response.status_code, retry_after=response.headers.get("retry-after"),
                      latency_ms=self._ms(started))

    def _ms(self, started: float) -> int:
        return max(0, int((self.clock() - started) * 1000))  # a wall clock may step back

    async def close(self) -> None:
        for task in self.workers:
            task.cancel()
        if self.owns_http:
            await self.http.aclose()
