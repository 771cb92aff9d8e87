"""Consumer groups' committed offsets on the embedded broker: read them all, set them back.

Tansu 0.6.0 answers ListGroups, OffsetFetch and OffsetCommit from an admin client (measured
for the broker journal, docs/topics.md), so every group is found without knowing its name:
Faust's app group, the sinks' groups, and whatever a later stage adds.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from clickpath.infra.broker_journal import TopicPartition as TP

_TIMEOUT_S = 10.0


def committed_offsets(admin: AdminClient, exclude: frozenset[str] | set[str] = frozenset()
                      ) -> dict[str, dict[TP, int]]:
    """Every group's committed offsets (groups that committed none are left out).

    Raises KafkaException (or the future's error) when the broker does not answer."""
    listed = admin.list_consumer_groups(request_timeout=_TIMEOUT_S).result()
    groups = sorted({g.group_id for g in listed.valid} - set(exclude))
    result: dict[str, dict[TP, int]] = {}
    for group in groups:
        if offsets := group_offsets(admin, group):
            result[group] = offsets
    return result


def group_offsets(admin: AdminClient, group: str) -> dict[TP, int]:
    """One group's committed offsets (the client asks for one group per request)."""
    futures = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group)], request_timeout=_TIMEOUT_S
    )
    answer = futures[group].result()
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in answer.topic_partitions or ()
        if tp.error is None and tp.offset >= 0
    }


def commit_offsets(admin: AdminClient, groups: Mapping[str, Mapping[TP, int]]) -> None:
    """Set each group's offsets, as if its consumers had committed them; then read them back
    and raise RuntimeError unless every one reads as set."""
    for group, offsets in groups.items():
        request = ConsumerGroupTopicPartitions(
            group, [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())]
        )
        answer = admin.alter_consumer_group_offsets([request],
                                                    request_timeout=_TIMEOUT_S)[group].result()
        failed = [tp for tp in answer.topic_partitions or () if tp.error is not None]
        if failed:
            raise RuntimeError(f"group {group}: offsets not committed: {failed[:3]}")
    for group, offsets in groups.items():
        have = group_offsets(admin, group)
        wrong = {tp: (o, have.get(tp)) for tp, o in offsets.items() if have.get(tp) != o}
        if wrong:
            raise RuntimeError(f"group {group}: offsets read back differ (set, read): "
                               f"{dict(list(wrong.items())[:3])}")
