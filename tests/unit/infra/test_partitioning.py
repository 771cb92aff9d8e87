"""partition_for agrees with the Java client's murmur2 partitioner (and so librdkafka's)."""

from __future__ import annotations

import pytest

from clickpath.infra.partitioning import partition_for


# From Kafka's org.apache.kafka.clients.producer.Partitioner over 1,000 partitions (the vectors
# kafka-python and aiokafka test their murmur2 against).
@pytest.mark.parametrize(
    ("key", "partition"),
    [(b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566), (b"\x00 ", 742)],
)
def test_java_partitioner_vectors(key: bytes, partition: int) -> None:
    assert partition_for(key, 1000) == partition


def test_always_a_valid_partition() -> None:
    for i in range(500):
        assert 0 <= partition_for(f"brand:player-{i}".encode(), 4) < 4


def test_no_partitions_is_an_error() -> None:
    with pytest.raises(ValueError):
        partition_for(b"k", 0)
