"""Publish the `statement_closed` webhooks of a period close to the `webhooks` topic.

The close (`clickpath close --period YYYY-MM`, in the CLI or the HTTP service's process) calls
`publish_statement_closed` with the rows it closed; the delivery engine reads the topic and
sends each record to the webhook endpoints subscribed to `statement_closed` (those of every
brand; one scoped to an affiliate only its own affiliate's rows). Records are produced
acknowledged (acks=all, flushed): when it returns, the broker holds them, and a restart of the
delivery engine loses none. The ids are the rows' (domain/webhooks.py): publishing the same
close again makes the same records, whose deliveries carry the same `webhook-id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clickpath.contracts.serde import Codec
from clickpath.contracts.topics import Topic
from clickpath.domain.webhooks import statement_closed_webhooks
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.infra.producer import EventProducer
from clickpath.settings import Settings

EVENT = "statement_closed"


def publish_statement_closed(
    settings: Settings, rows: Sequence[dict[str, Any]], codec: Codec | None = None
) -> int:
    """Produce one `statement_closed` webhook record per closed row that a configured endpoint
    wants, keyed by affiliate, and wait for the broker's acknowledgement; how many were
    produced (0, and no connection made, when no endpoint subscribes). ValueError for a row
    that is not a closed statement row (domain/webhooks.py); NotAcknowledged
    (clickpath.infra.producer) when the broker did not take them all."""
    webhooks = statement_closed_webhooks(rows)
    store = EndpointStore.from_settings(settings)
    wanted = [w for w in webhooks if store.for_webhook(EVENT, None, w.affiliate_id)]
    if not wanted:
        return 0
    with EventProducer(settings, codec=codec, batch_records=False) as producer:
        for webhook in wanted:
            producer.send_record(Topic.WEBHOOKS, webhook.affiliate_id, webhook)
    return len(wanted)
