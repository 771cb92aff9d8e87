"""The broker journal against the real embedded broker: records (key, value, headers, timestamp)
and consumer groups' offsets come back identical in a fresh broker, over two restarts, and a
topic created while the keeper runs is journaled too."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from clickpath.infra.broker import EmbeddedBroker
from clickpath.infra.broker_journal import journal_dir
from clickpath.infra.broker_journal_keeper import JournalKeeper
from clickpath.infra.broker_offsets import committed_offsets
from clickpath.infra.broker_restore import restore
from tests.integration.harness import wait_until


def produce(bootstrap: str, topic: str, n: int, start: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})
    for i in range(start, start + n):  # several records per batch: the case Tansu lists wrong
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode() if i % 7 else None,
                         partition=i % 2, timestamp=1_700_000_000_000 + i,
                         headers=[("n", str(i).encode()), ("empty", None)])
    assert producer.flush(30) == 0


def everything(bootstrap: str, topics: dict[str, int]) -> dict:
    """Every record of `topics` by (topic, partition): offset, key, value, headers, timestamp."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-journal-read",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(t, p, 0) for t, n in topics.items() for p in range(n)])
    waiting = {(t, p) for t, n in topics.items() for p in range(n)}
    got: dict = {tp: [] for tp in waiting}
    try:
        def read() -> bool:
            for msg in consumer.consume(1000, timeout=0.5):
                tp = (msg.topic(), msg.partition())
                if msg.error():
                    waiting.discard(tp)
                else:
                    got[tp].append((msg.offset(), msg.key(), msg.value(), msg.headers(),
                                    msg.timestamp()[1]))
            return not waiting

        wait_until(read, 60, "every partition read to its end", every_s=0)
    finally:
        consumer.close()
    return got


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                        asynchronous=False)
    finally:
        consumer.close()


def test_records_and_offsets_come_back_identical_across_two_restarts(tmp_path) -> None:
    journal = journal_dir(tmp_path)
    journal.begin("test")
    topics = {"j.events": 2}
    with EmbeddedBroker() as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("j.events", 2, 1)])["j.events"].result()
        keeper = JournalKeeper(journal, broker.bootstrap, {}).start()
        produce(broker.bootstrap, "j.events", 500)
        # A topic made while the keeper runs, as Faust makes its changelogs.
        admin.create_topics([NewTopic("j.changelog", 3, 1)])["j.changelog"].result()
        topics["j.changelog"] = 3
        produce(broker.bootstrap, "j.changelog", 30)
        commit(broker.bootstrap, "g.streams", {("j.events", 0): 200, ("j.events", 1): 250})
        commit(broker.bootstrap, "g.sink", {("j.changelog", 1): 15})
        assert keeper.drain_and_stop(), keeper.failure
        first = everything(broker.bootstrap, topics)
    assert journal.clean_stop.is_file()

    with EmbeddedBroker() as broker:
        restored = restore(journal, broker.bootstrap)
        assert (restored.records, restored.topics, restored.groups) == (530, 2, 2)
        assert restored.previous.clean
        assert everything(broker.bootstrap, topics) == first
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        assert committed_offsets(admin) == {
            "g.streams": {("j.events", 0): 200, ("j.events", 1): 250},
            "g.sink": {("j.changelog", 1): 15},
        }
        # The second run journals on from where the first stopped.
        journal.clean_stop.unlink()
        keeper = JournalKeeper(journal, broker.bootstrap, restored.held).start()
        produce(broker.bootstrap, "j.events", 100, start=500)
        commit(broker.bootstrap, "g.streams", {("j.events", 0): 300})
        assert keeper.drain_and_stop(), keeper.failure
        second = everything(broker.bootstrap, topics)
    assert sum(len(v) for v in second.values()) == 630

    with EmbeddedBroker() as broker:
        restored = restore(journal, broker.bootstrap)
        assert restored.records == 630
        assert everything(broker.bootstrap, topics) == second
        assert committed_offsets(AdminClient({"bootstrap.servers": broker.bootstrap}))[
            "g.streams"] == {("j.events", 0): 300, ("j.events", 1): 250}
