"""Postback sink: server-to-server postbacks to the affiliate that brought the player.

Each postback record is rendered through its affiliate's URL template and sent with GET, all
records of a batch concurrently. A failed attempt (network error, 408, 429, 5xx) is retried
with exponential backoff; other 4xx are final. After the last attempt the postback goes to the
dead-letter topic with the reason, and the batch is committed: nothing is silently dropped.
Delivery is at least once; `{postback_id}` is stable so a receiver can drop repeats.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC

import httpx
import structlog
from confluent_kafka import Message

from clickpath.metrics import POSTBACK_ATTEMPTS, POSTBACKS, observe_event_latency
from clickpath.models import Postback, Record
from clickpath.money import format_amount
from clickpath.postback_template import render_template
from clickpath.settings import Settings
from clickpath.topics import Topic
from sinks.base import BatchSink

log = structlog.get_logger(__name__)
RETRYABLE = {408, 425, 429}


def macro_values(p: Postback) -> dict[str, str | None]:
    return {
        "click_id": p.click_id,
        "sub1": p.sub1, "sub2": p.sub2, "sub3": p.sub3, "sub4": p.sub4, "sub5": p.sub5,
        "event": p.event,
        "amount": format_amount(p.amount) if p.amount is not None else None,
        "currency": p.currency,
        "payout": None,  # commissions are not computed yet; the macro renders empty
        "player_token": p.player_token,
        "transaction_id": p.transaction_id,
        "timestamp": str(int(p.occurred_at.astimezone(UTC).timestamp())),
        "affiliate_id": p.affiliate_id,
        "campaign_id": p.campaign_id,
        "brand_id": p.brand_id,
        "postback_id": p.postback_id,
    }


class PostbackSink(BatchSink):
    stage = "postbacks"
    topics = (Topic.POSTBACKS,)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._loop = asyncio.new_event_loop()
        self._http = httpx.AsyncClient(
            timeout=settings.postback_timeout_s,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=settings.postback_concurrency),
            headers={"user-agent": "clickpath-postback/0.1"},
        )

    def url_for(self, p: Postback) -> str | None:
        affiliate = self.settings.affiliates.get(p.affiliate_id)
        if affiliate is None or not affiliate.postback_url:
            return None
        if p.event not in affiliate.postback_events:
            return None
        return render_template(affiliate.postback_url, macro_values(p))

    def write(self, records: Sequence[tuple[Message, Record]]) -> None:
        jobs = [(m, r) for m, r in records if isinstance(r, Postback)]
        self._loop.run_until_complete(self._deliver_all(jobs))

    async def _deliver_all(self, jobs: list[tuple[Message, Postback]]) -> None:
        limit = asyncio.Semaphore(self.settings.postback_concurrency)

        async def one(msg: Message, p: Postback) -> None:
            async with limit:
                await self._deliver(msg, p)

        await asyncio.gather(*(one(m, p) for m, p in jobs))

    async def _deliver(self, msg: Message, p: Postback) -> None:
        url = self.url_for(p)
        if url is None:
            POSTBACKS.labels("no_endpoint").inc()
            return
        error = ""
        for attempt in range(1, self.settings.postback_max_attempts + 1):
            try:
                response = await self._http.get(url)
                status = response.status_code
                POSTBACK_ATTEMPTS.labels(str(status // 100) + "xx").inc()
                if status < 300:
                    POSTBACKS.labels("delivered").inc()
                    observe_event_latency("postback_delivered", p.occurred_at)
                    log.info("postback_delivered", affiliate_id=p.affiliate_id, conversion=p.event,
                             status=status, attempt=attempt, postback_id=p.postback_id)
                    return
                error = f"HTTP {status}"
                if 400 <= status < 500 and status not in RETRYABLE:
                    break  # the partner refused it; retrying cannot help
            except httpx.HTTPError as e:
                POSTBACK_ATTEMPTS.labels("error").inc()
                error = f"{type(e).__name__}: {e}"
            if attempt < self.settings.postback_max_attempts:
                backoff = min(
                    self.settings.postback_backoff_s * 2 ** (attempt - 1),
                    self.settings.postback_backoff_max_s,
                )
                await asyncio.sleep(random.uniform(0, backoff))  # full jitter
        POSTBACKS.labels("failed").inc()
        self.dead_letter(msg, f"postback to affiliate {p.affiliate_id} failed: {error}")

    def close(self) -> None:
        self._loop.run_until_complete(self._http.aclose())
        self._loop.close()


def run_postback_sink(settings: Settings) -> None:
    from sinks.base import run_sink

    run_sink(PostbackSink(settings))
