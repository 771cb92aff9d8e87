"""Publish the `statement_closed` webhooks of a period close to the `webhooks` topic.

The close (`clickpath close --period YYYY-MM`, in the CLI or the HTTP service's process) calls
`publish_statement_closed` with the rows it closed; the delivery engine reads the topic and
sends each record to the webhook endpoints subscribed to `statement_closed` (those of every
brand; one scoped to an affiliate only its own affiliate's rows), none when none subscribes.
Records are produced acknowledged (acks=all, flushed): when it returns, the broker holds them,
and a restart of the delivery engine loses none. The ids are the rows' (domain/webhooks.py):
publishing the same close again finds them on the topic and produces none (within the topic's
retention); a delivery retried or replayed carries the same `webhook-id`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from clickpath.contracts.models import Webhook
from clickpath.contracts.serde import Codec, build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.domain.webhooks import statement_closed_webhooks
from clickpath.infra.kafka import consumer_config
from clickpath.infra.partitioning import partition_for
from clickpath.infra.producer import EventProducer
from clickpath.settings import Settings

READ_TIMEOUT_S = 30.0


class NotRead(RuntimeError):
    """The webhooks topic could not be read to its end (the broker did not answer in time)."""


def publish_statement_closed(
    settings: Settings, rows: Sequence[dict[str, Any]], codec: Codec | None = None
) -> int:
    """Produce one `statement_closed` webhook record per closed row not already on the
    webhooks topic, keyed by affiliate, and wait for the broker's acknowledgement; how many
    were produced. The same close published again (a retry after a crash) finds its records
    there and produces nothing, so nothing is delivered twice. ValueError, before anything is
    produced, for a row that is not a closed statement row (domain/webhooks.py); NotRead when
    the topic could not be read to its end; NotAcknowledged (clickpath.infra.producer) when
    the broker did not take them all (publishing again is then safe).

    Every row is produced, subscribed or not: which endpoints get it is the delivery engine's
    decision when it reads the record, against the endpoints it runs with (those of `up`'s
    own configuration included, which a CLI process need not see)."""
    webhooks = statement_closed_webhooks(rows)
    if not webhooks:
        return 0
    codec = codec or build_codec(settings.schemas_dir, settings.schema_registry_url)
    there = published_ids(settings, codec, {w.affiliate_id for w in webhooks})
    new = [w for w in webhooks if w.webhook_id not in there]
    if not new:
        return 0
    with EventProducer(settings, codec=codec, batch_records=False) as producer:
        for webhook in new:
            producer.send_record(Topic.WEBHOOKS, webhook.affiliate_id, webhook)
    return len(new)


def published_ids(settings: Settings, codec: Codec, affiliates: set[str],
                  timeout_s: float = READ_TIMEOUT_S) -> set[str]:
    """The ids of the statement_closed records already on the webhooks topic, read to its end
    on the partitions of `affiliates` (the topic's key); within its retention (30 days)."""
    topic = topic_name(settings, Topic.WEBHOOKS)
    partitions = sorted({partition_for(a.encode(), settings.partitions) for a in affiliates})
    consumer = Consumer(consumer_config(settings, "period-close", **{"enable.partition.eof": True}))
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    waiting, found = set(partitions), set()
    deadline = time.monotonic() + timeout_s
    try:
        while waiting:
            if time.monotonic() > deadline:
                raise NotRead(f"{topic}: partitions {sorted(waiting)} not read to the end in {timeout_s:g} s")
            for msg in consumer.consume(500, timeout=0.5):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        waiting.discard(msg.partition())
                    continue
                record = codec.decode(msg.value() or b"")
                if isinstance(record, Webhook) and record.event == "statement_closed":
                    found.add(record.webhook_id)
    finally:
        consumer.close()
    return found
