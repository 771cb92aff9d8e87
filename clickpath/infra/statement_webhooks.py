"""Publish the `statement_closed` webhooks of a period close to the `webhooks` topic.

The close (`clickpath close --period YYYY-MM`, in the CLI or the HTTP service's process) calls
`publish_statement_closed` with the rows it closed; the delivery engine reads the topic and
sends each record to the webhook endpoints subscribed to `statement_closed` (those of every
brand; one scoped to an affiliate only its own affiliate's rows), none when none subscribes.
Records are produced acknowledged (acks=all, flushed): when it returns, the broker holds them,
and a restart of the delivery engine loses none. The ids are the rows' (domain/webhooks.py):
publishing the same close again makes the same records, whose deliveries carry the same
`webhook-id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clickpath.contracts.serde import Codec
from clickpath.contracts.topics import Topic
from clickpath.domain.webhooks import statement_closed_webhooks
from clickpath.infra.producer import EventProducer
from clickpath.settings import Settings


def publish_statement_closed(
    settings: Settings, rows: Sequence[dict[str, Any]], codec: Codec | None = None
) -> int:
    """Produce one `statement_closed` webhook record per closed row, keyed by affiliate, and
    wait for the broker's acknowledgement; how many were produced (every row's). ValueError,
    before anything is produced, for a row that is not a closed statement row
    (domain/webhooks.py); NotAcknowledged (clickpath.infra.producer) when the broker did not
    take them all (publishing again is safe: the same ids).

    Every row is produced, subscribed or not: which endpoints get it is the delivery engine's
    decision when it reads the record, against the endpoints it runs with (those of `up`'s
    own configuration included, which a CLI process need not see)."""
    webhooks = statement_closed_webhooks(rows)
    if not webhooks:
        return 0
    with EventProducer(settings, codec=codec, batch_records=False) as producer:
        for webhook in webhooks:
            producer.send_record(Topic.WEBHOOKS, webhook.affiliate_id, webhook)
    return len(webhooks)
