"""partition_for puts keys where librdkafka's murmur2_random producer really puts them."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from clickpath.infra.partitioning import partition_for

PARTITIONS = 7  # not a power of two: a wrong modulus or sign handling would show


def test_partition_for_matches_the_producers_partitioner(broker) -> None:
    topic = f"partitioning-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "partitioner": "murmur2_random"})
    keys = [f"brand-{i % 3}:player-{i}".encode() for i in range(300)] + [b"", b"\xff\xfe", b"k" * 301]
    placed: dict[bytes, int] = {}

    def acked(err, msg) -> None:
        assert err is None, err
        placed[msg.key()] = msg.partition()

    for key in keys:
        producer.produce(topic, key=key, value=b"x", on_delivery=acked)
    assert producer.flush(30) == 0
    assert len(placed) == len(keys)
    assert {k: partition_for(k, PARTITIONS) for k in keys} == placed
