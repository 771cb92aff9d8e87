"""The journal keeper's offsets snapshot (clickpath/infra/broker_journal_keeper.py): it must never
be written ahead of the records the commits cover, even when librdkafka's cached high watermark
lags behind the broker or a topic appears between two discoveries."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from clickpath.infra import broker_journal_keeper
from clickpath.infra.broker_journal import JournalDir, offsets_from_json, read_json
from clickpath.infra.broker_journal_keeper import JournalKeeper

WAIT_S = 0.1
LAG = 3  # rounds; the keeper waits _FRESH_ROUNDS = 3 after an offsets read


class World:
    """A broker whose consumer sees it `LAG` rounds late: each fetch's records and high watermark
    are those of LAG consume() rounds ago (responses built before the last ones arrived).

    The app has `out` with one record from the start; at round 26 it writes two more and then
    commits `in` (its input) at 5. In "stall", the keeper's round after the offsets read takes a
    second (a loaded machine: time passes, fetches do not). In "new topic", the app makes `new`
    and writes to it at round 23, after a discovery and before the commit."""

    def __init__(self, case: str) -> None:
        self.case = case
        self.round = 0
        self.time = 0.0
        self.history: list[dict[str, list[bytes]]] = []

    def topics(self) -> dict[str, list[bytes]]:
        topics = {"in": [b"i%d" % i for i in range(5)],
                  "out": [b"o%d" % i for i in range(3 if self.round >= 26 else 1)]}
        if self.case == "new topic" and self.round >= 23:
            topics["new"] = [b"n0", b"n1"]
        return topics

    def committed(self) -> dict[str, dict[tuple[str, int], int]]:
        return {"app": {("in", 0): 5}} if self.round >= 26 else {}

    def seen(self) -> dict[str, list[bytes]]:
        return self.history[max(0, len(self.history) - 1 - LAG)] if self.history else {}

    def advance(self, timeout: float) -> None:
        stall = self.case == "stall" and self.round == 26
        self.time += 1.0 if stall else timeout
        self.round += 1
        self.history.append(self.topics())


class Message:
    def __init__(self, topic: str, offset: int, value: bytes) -> None:
        self._topic, self._offset, self._value = topic, offset, value

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return 1, 1700000000000

    def key(self) -> None:
        return None

    def value(self) -> bytes:
        return self._value

    def headers(self) -> None:
        return None


class Consumer:
    def __init__(self, world: World) -> None:
        self.world = world
        self.positions: dict[str, int] = {}
        self.marks: dict[str, int] = {}

    def incremental_assign(self, partitions) -> None:
        for tp in partitions:
            self.positions[tp.topic] = tp.offset

    def consume(self, n: int, timeout: float) -> list[Message]:
        self.world.advance(timeout)
        seen = self.world.seen()
        out = []
        for topic, at in self.positions.items():
            if topic not in seen:
                continue
            records = seen[topic]
            out += [Message(topic, i, records[i]) for i in range(at, len(records))]
            self.positions[topic] = len(records)
            self.marks[topic] = len(records)  # the fetch's high watermark, as stale as it
        return out

    def get_watermark_offsets(self, tp, cached: bool) -> tuple[int, int]:
        return -1, self.marks.get(tp.topic, -1)


class Admin:
    def __init__(self, world: World) -> None:
        self.world = world

    def list_topics(self, timeout: float) -> SimpleNamespace:
        meta = SimpleNamespace(partitions={0: None}, error=None)
        return SimpleNamespace(topics={t: meta for t in self.world.topics()})


@pytest.mark.parametrize("case", ["stall", "new topic"])
def test_the_offsets_snapshot_waits_for_watermarks_fetched_after_the_offsets(
        tmp_path, monkeypatch, case) -> None:
    world = World(case)
    journal = JournalDir(tmp_path / "broker")
    journal.begin("2026-01-01T00:00:00")
    keeper = JournalKeeper(journal, "fake:9092", {}, fetch_wait_ms=int(WAIT_S * 1000),
                           snapshot_every_s=0.5, clock=lambda: world.time)
    monkeypatch.setattr(broker_journal_keeper, "committed_offsets",
                        lambda admin, exclude: world.committed())
    written: list[dict] = []
    write = journal.write_offsets

    def write_offsets(taken_at, groups) -> None:
        written.append({"groups": groups, "held": dict(keeper.held)})
        write(taken_at, groups)

    monkeypatch.setattr(journal, "write_offsets", write_offsets)
    consumer = Consumer(world)
    stop_at = 200

    def consume(n, timeout):
        if world.round >= stop_at:
            keeper._stop.set()
        return Consumer.consume(consumer, n, timeout)

    monkeypatch.setattr(consumer, "consume", consume)
    keeper._keep(consumer, Admin(world))
    keeper._close_files()
    assert written, "no snapshot written"
    for snapshot in (s for s in written if s["groups"]):  # the commit came after `out`'s
        # records: they are in the journal before an offset that covers them is
        assert snapshot["held"].get(("out", 0)) == 3, snapshot
        if case == "new topic":
            assert snapshot["held"].get(("new", 0)) == 2, snapshot
    groups = offsets_from_json(read_json(journal.offsets_file, {})["groups"])
    assert groups == {"app": {("in", 0): 5}}
