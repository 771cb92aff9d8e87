"""Offset reconciliation: what a run that died delivered to the ingress topics, read back from
the broker, so the next run sends none of it again.

A run records each partition's end before it sends (`end_offsets`); the checkpoint keeps them
until the batch is acknowledged. After a crash, everything from there to each partition's end
is read (`delivered_event_ids`) and the crashed run's lines found in it count as recovered.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from clickpath.connectors.importer.state import Positions
from clickpath.contracts.models import IngressEvent
from clickpath.contracts.serde import Codec
from clickpath.contracts.topics import Topic
from clickpath.infra.batching import events_in
from clickpath.infra.kafka import BrokerUnavailable, consumer_config
from clickpath.settings import Settings

# The topics an ingress event can be routed to; a crashed run's records are looked for there.
INGRESS_TOPICS = tuple(t for t in Topic if t.value.startswith("ingress."))


def end_offsets(settings: Settings, topics: list[str]) -> Positions:
    """Each partition's end, where this run's records will start.

    On the embedded broker the listed end can be short of the real one (docs/topics.md, 'The
    embedded broker'): short is safe here, it only means reading a little more after a crash.
    """
    consumer = Consumer(consumer_config(settings, f"import-offsets-{uuid.uuid4().hex[:8]}"))
    try:
        metadata = consumer.list_topics(timeout=10)
        positions: Positions = {}
        for topic in topics:
            if topic not in metadata.topics:
                continue
            for partition in metadata.topics[topic].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                positions.setdefault(topic, {})[partition] = max(high, 0)
        return positions
    finally:
        consumer.close()


def delivered_event_ids(
    settings: Settings,
    codec: Codec,
    topics: list[str],
    positions: Positions,
    timeout_s: float = 120,
) -> set[tuple[str, str]]:
    """(brand_id, event_id) of every ingress event from `positions` to the end of each partition.

    What a crashed run delivered but never recorded is among these; so are other producers'
    events, which the caller only consults for the crashed run's lines.
    """
    consumer = Consumer(
        consumer_config(settings, f"import-check-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": True})
    )
    found: set[tuple[str, str]] = set()
    try:
        metadata = consumer.list_topics(timeout=10)
        assignment = [
            TopicPartition(topic, partition, positions.get(topic, {}).get(partition, OFFSET_BEGINNING))
            for topic in topics
            if topic in metadata.topics
            for partition in metadata.topics[topic].partitions
        ]
        consumer.assign(assignment)
        waiting = {(tp.topic, tp.partition) for tp in assignment}
        deadline = time.monotonic() + timeout_s
        while waiting:
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"could not read to the end of {sorted(waiting)} in {timeout_s:.0f}s")
            for msg in consumer.consume(1000, timeout=0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        waiting.discard((msg.topic(), msg.partition()))
                    continue
                # A batch record's events one by one; what does not decode is not ours to
                # judge: the agents dead-letter it.
                for record in events_in(codec, msg.value(), skip_undecodable=True):
                    if isinstance(record, IngressEvent):
                        found.add((record.brand_id, record.event_id))
    finally:
        consumer.close()
    return found
