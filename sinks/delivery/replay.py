"""`clickpath deliveries replay`: put dead-lettered deliveries back in line.

A delivery dead letter carries its whole job (endpoint, stable delivery id, the record), so a
replay sends the same thing with the same id again: a receiver that already has it drops it.
The jobs go to the retry topic, due now, with fresh attempts; the running delivery process
picks them up. The dead-letter topic is read to its end (by the high watermarks fetches
report, which are right on every broker) with a throwaway consumer group.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from clickpath.contracts.models import DeadLetter, DeliveryJob, utcnow
from clickpath.contracts.serde import Codec, DecodeError, build_codec
from clickpath.contracts.topics import Node, Topic, topic_name, topics_consumed_by
from clickpath.infra.kafka import consumer_config, make_producer
from clickpath.settings import Settings


def replay_dead_letters(
    settings: Settings, endpoint_id: str | None = None, job_id: str | None = None,
    idle_s: float = 5.0,
) -> int:
    codec = build_codec(settings.schemas_dir, settings.schema_registry_url)
    consumer = Consumer(consumer_config(settings, f"replay-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([topic_name(settings, t) for t in topics_consumed_by(Node.DELIVERIES_REPLAY)])
    producer = make_producer(settings)
    retries = topic_name(settings, Topic.DELIVERY_RETRIES)
    replayed = 0
    last_seen = time.monotonic()
    try:
        while time.monotonic() - last_seen < idle_s and not _at_end(consumer):
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            last_seen = time.monotonic()
            job = _delivery_job(codec, msg.value())
            if job is None or (endpoint_id and job.endpoint_id != endpoint_id):
                continue
            if job_id and job.job_id != job_id:
                continue
            fresh = job.model_copy(update={"attempt": 0, "due_at": utcnow()})
            producer.produce(retries, key=job.endpoint_id.encode(), value=codec.encode(fresh))
            replayed += 1
        remaining = producer.flush(30)
        if remaining:
            raise RuntimeError(f"{remaining} replayed deliveries not acknowledged by the broker")
    finally:
        consumer.close()
    return replayed


def _delivery_job(codec: Codec, value: bytes | None) -> DeliveryJob | None:
    try:
        letter = codec.decode(value or b"")
        if not isinstance(letter, DeadLetter) or letter.stage != "delivery":
            return None
        job = codec.decode(letter.original_value)
    except DecodeError:
        return None
    return job if isinstance(job, DeliveryJob) else None


def _at_end(consumer: Consumer) -> bool:
    """Every assigned partition read up to the high watermark its last fetch reported."""
    assigned = consumer.assignment()
    if not assigned:
        return False
    positions = consumer.position(assigned)
    for tp in positions:
        _, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), cached=True)
        if high < 0 or (tp.offset < high and not (tp.offset < 0 and high == 0)):
            return False
    return True
