"""The partition of a key, computed here so that a door can group events by partition itself.

Batch records (docs/topics.md, 'Batch records') are produced with an explicit partition: the
one the producers' murmur2 partitioner would have chosen for each event's key alone. It must
match librdkafka's `murmur2_random` (our producers), the Java client's default partitioner and
aiokafka's (Faust), or a batch and the single records of the same key would part ways.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=65536)
def partition_for(key: bytes, partitions: int) -> int:
    """`(murmur2(key) & 0x7fffffff) % partitions`, as Java and librdkafka do for non-null keys.

    Cached: aiokafka's murmur2 is pure Python (a few µs), and a player's key comes back often."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)
