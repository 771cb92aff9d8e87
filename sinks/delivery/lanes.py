"""One lane per endpoint: its queue ordered by due time, rate limit, circuit breaker and pool.

A dead or slow endpoint holds only its own lane; the others go on. The lane's connection pool
is its own too: a hanging partner holds only its own connections. Every request goes through
the egress guard and every connection only to an address it has just checked (`client`).
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
from clickpath.sinks.delivery.client import Answer, HttpxSender, PinnedClient, Sender
from clickpath.sinks.delivery.egress import EgressPolicy
from clickpath.sinks.delivery.render import OutboundRequest

__all__ = ["Answer", "Lane", "Queued", "Source"]

Source = tuple[str, int, int]  # topic, partition, offset of the record a job came from


@dataclass(order=True)
class Queued:
    """A job waiting in its lane, ordered by due time (Unix), then by arrival."""

    due: float
    seq: int
    job: DeliveryJob = field(compare=False)
    source: Source = field(compare=False)
    record: Record | None = field(default=None, compare=False)  # job.record decoded, if known


class Lane:
    def __init__(self, endpoint_id: str, settings: Settings, clock: Clock, egress: EgressPolicy,
                 http: httpx.AsyncClient | None = None) -> None:
        """`http`: a client shared by every lane (tests); by default the lane makes its own."""
        self.endpoint_id = endpoint_id
        self.clock, self.egress = clock, egress
        size = settings.delivery_endpoint_concurrency
        self.sender: Sender = (
            HttpxSender(http, egress, clock) if http is not None
            else PinnedClient(egress, clock, settings.postback_timeout_s, connections=size)
        )
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

    def retrying(self) -> int:
        """Jobs waiting for another attempt after a failed one, or held by the circuit (parked
        jobs count once read back: this process keeps them here until they are due)."""
        return sum(1 for item in self.heap if item.job.attempt or item.job.last_error)

    async def send(self, request: OutboundRequest) -> Answer:
        """Make one request through the egress guard, following checked redirects."""
        return await self.sender.send(request)

    async def close(self) -> None:
        for task in self.workers:
            task.cancel()
        await self.sender.aclose()
