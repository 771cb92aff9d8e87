"""From records read to delivery jobs, and the revocations that stop some of them.

Three topics feed the delivery engine: postbacks (each subscribed postback endpoint of the
affiliate gets a job), canonical events (webhook endpoints that want the event) and its own
retry topic (parked jobs coming back, and copies of revocations). A job's id is derived from
its source and endpoint, so it is the same for every attempt and every replay: receivers use
it to drop repeats.

A revocation (consent withdrawn, self-exclusion) names a player of an affiliate: from then on
no postback for that player goes out, pending, parked or made later.
"""

from __future__ import annotations

from datetime import datetime

from clickpath.contracts.models import (
    CanonicalEvent,
    DeliveryJob,
    Postback,
    PostbackRevocation,
    Record,
    Webhook,
)
from clickpath.contracts.serde import Codec
from clickpath.domain.endpoints import Endpoint
from clickpath.domain.postbacks import job_id
from clickpath.domain.pseudonym import player_token
from clickpath.domain.webhooks import canonical_webhook_event
from clickpath.infra.endpoint_store import EndpointStore


def webhook_event(e: CanonicalEvent) -> str | None:
    """Which webhook event a canonical event is, if any."""
    return canonical_webhook_event(e.event_type, e.is_ftd)


def jobs_for(record: Record, raw: bytes, store: EndpointStore, now: datetime) -> list[DeliveryJob]:
    """The deliveries a record (`raw`: its bytes as read) asks for, due `now` (none when no
    endpoint subscribes). A job read back from the retry topic is its own delivery."""
    if isinstance(record, DeliveryJob):
        return [record]
    event: str
    if isinstance(record, Postback):
        endpoints = store.for_postback(record.affiliate_id, record.event)
        source_id, event, occurred = record.postback_id, record.event, record.occurred_at
    elif isinstance(record, CanonicalEvent):
        webhook = webhook_event(record)
        if webhook is None:
            return []
        endpoints = store.for_webhook(webhook, record.brand_id, record.affiliate_id)
        source_id, event, occurred = f"{record.event_id}|{webhook}", webhook, record.occurred_at
    elif isinstance(record, Webhook):
        endpoints = webhook_endpoints(record, store)
        source_id, event, occurred = record.webhook_id, record.event, record.occurred_at
    else:
        return []
    return [
        DeliveryJob(
            job_id=job_id(source_id, e.endpoint_id), endpoint_id=e.endpoint_id, kind=e.kind,
            event=event, attempt=0, due_at=now, created_at=now, occurred_at=occurred, record=raw,
            received_at=record.received_at or now,
        )
        for e in endpoints
    ]


def webhook_endpoints(record: Webhook, store: EndpointStore) -> list[Endpoint]:
    """The endpoints a `Webhook` record goes to: subscribed, within their brand (a record of
    no brand, a statement, only to endpoints of every brand) and affiliate scope; none scoped
    to an affiliate when the player's consent or responsible gaming forbids (`affiliate_block`)."""
    found = store.for_webhook(record.event, record.brand_id, record.affiliate_id)
    if record.affiliate_block is not None:
        found = [e for e in found if e.affiliate_id is None]
    return found


class Revocations:
    """The players whose postbacks must not go: (affiliate, player token) -> why.

    Kept for the life of the process; the engine copies each revocation it reads from the
    postbacks topic to its retry topic, so that after a restart the revocations are read
    again before (or with) the parked jobs they stop.
    """

    def __init__(self, codec: Codec) -> None:
        self._codec = codec
        self.reasons: dict[tuple[str, str], str] = {}

    def add(self, revocation: PostbackRevocation) -> None:
        self.reasons[(revocation.affiliate_id, revocation.player_token)] = revocation.reason

    def for_webhook(self, endpoint: Endpoint, record: Record, key: bytes) -> str | None:
        """Why a Webhook record about a player must not go to `endpoint`, or None: one scoped to
        an affiliate gets nothing about a player revoked for that affiliate (consent withdrawn,
        self-exclusion after the webhook was made); operators' endpoints are not affected."""
        if (not self.reasons or endpoint.affiliate_id is None or not isinstance(record, Webhook)
                or record.person_id is None):
            return None
        token = player_token(key, endpoint.affiliate_id, record.person_id)
        return self.reasons.get((endpoint.affiliate_id, token))

    def reason(self, job: DeliveryJob, record: Record | None = None) -> str | None:
        """Why `job` must not go, or None. `record`: the job's record, when already decoded."""
        if job.kind != "postback" or not self.reasons:
            return None
        postback = record or self._codec.decode(job.record)
        if not isinstance(postback, Postback):
            return None
        return self.reasons.get((postback.affiliate_id, postback.player_token))
