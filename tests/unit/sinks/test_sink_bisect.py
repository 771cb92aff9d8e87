"""A batch the store refuses for a reason retrying cannot cure is split until the refused rows
stand alone: they go to the dead-letter topic with the reason and where they were, the rest is
written, and the sink commits. A passing failure keeps the back-pressure (issue 13, High 2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from clickpath.contracts.models import DeadLetter, Kyc, Record
from clickpath.contracts.serde import build_codec
from clickpath.infra.batching import BatchEncoder, EventCounter
from clickpath.infra.clickhouse import is_unwritable
from clickpath.settings import Settings
from clickpath.sinks.base import BatchSink, SinkWriteError, UnwritableError

CODEC = build_codec(None, None)


class FakeMessage:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def key(self) -> bytes:
        return f"k{self._offset}".encode()

    def value(self) -> bytes:
        return f"v{self._offset}".encode()

    def topic(self) -> str:
        return "t.canonical"

    def partition(self) -> int:
        return 3

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    def produce(self, topic: str, key: bytes | None = None, value: bytes = b"") -> None:
        self.sent.append((topic, key, value))

    def __len__(self) -> int:
        return 0


class Sink(BatchSink):
    """write() refuses any batch holding a record whose player is in `bad`; the first
    `transient` calls fail as a store that is down would."""

    stage = "test"

    def __init__(self, bad: set[str], transient: int = 0) -> None:  # no Kafka: parts set here
        import threading

        self.codec = CODEC
        self._dlq = FakeProducer()  # type: ignore[assignment]
        self._dlq_topic = "t.dead-letter"
        self._stop = threading.Event()
        self.bad, self.transient = bad, transient
        self.written: list[str] = []
        self.calls = 0

    def write(self, records: Sequence[tuple[object, Record]]) -> None:  # type: ignore[override]
        self.calls += 1
        if self.transient:
            self.transient -= 1
            raise SinkWriteError("connection refused")
        players = [r.player_id for _, r in records]  # type: ignore[attr-defined]
        if self.bad & set(players):
            raise UnwritableError("value out of range")
        self.written += [p for p in players if p not in self.written]

    def letters(self) -> list[DeadLetter]:
        return [CODEC.decode(v) for _, _, v in self._dlq.sent]  # type: ignore[attr-defined,misc]


def batch(n: int) -> list[tuple[FakeMessage, Record]]:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return [(FakeMessage(100 + i), Kyc(event_id=f"e{i}", occurred_at=when, brand_id="b",
                                       source="s", player_id=f"p{i}", status="verified"))
            for i in range(n)]


@pytest.mark.parametrize("bad", [{"p0"}, {"p37"}, {"p63"}, {"p5", "p6", "p40"}])
def test_refused_rows_are_isolated_and_dead_lettered_the_rest_written(bad, monkeypatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    sink = Sink(bad)
    written = sink._write_with_retry(batch(64))  # type: ignore[arg-type]
    assert written == 64 - len(bad)
    assert set(sink.written) == {f"p{i}" for i in range(64)} - bad
    letters = sink.letters()
    assert sorted(int(str(x.offset)) - 100 for x in letters) == sorted(int(b[1:]) for b in bad)
    for letter in letters:
        assert letter.topic == "t.canonical" and letter.partition == 3 and letter.stage == "test"
        assert "value out of range" in letter.reason
        assert letter.original_key == f"k{letter.offset}".encode()


def test_a_passing_failure_is_retried_not_dead_lettered(monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    sink = Sink(set(), transient=3)
    assert sink._write_with_retry(batch(10)) == 10  # type: ignore[arg-type]
    assert sink.letters() == [] and len(slept) == 3 and len(sink.written) == 10


def test_a_passing_failure_during_bisection_does_not_dead_letter_twice(monkeypatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    sink = Sink({"p1"})
    original = sink.write
    state = {"n": 0}

    def flaky(records):
        state["n"] += 1
        if state["n"] == 6:  # after p1 was isolated: the store goes away once
            raise SinkWriteError("timeout")
        return original(records)

    sink.write = flaky  # type: ignore[method-assign]
    assert sink._write_with_retry(batch(8)) == 7  # type: ignore[arg-type]
    assert [x.offset for x in sink.letters()] == [101]


def test_value_errors_are_unwritable_and_connection_errors_are_not() -> None:
    from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError

    assert is_unwritable(DataError("Unable to create native array for column `day`: error"))
    assert is_unwritable(DatabaseError("Code: 321. DB::Exception: Value is out of range"))
    assert is_unwritable(DatabaseError("x", code=407))
    assert not is_unwritable(OperationalError("Error executing HTTP request"))
    assert not is_unwritable(DatabaseError("Code: 60. DB::Exception: Unknown table"))
    assert not is_unwritable(DatabaseError("Code: 241. Memory limit exceeded"))
    assert not is_unwritable(ConnectionRefusedError())
    assert not is_unwritable(TimeoutError())


class BytesMessage(FakeMessage):
    """A record at `offset` with real bytes: a single record, or a batch record as the stage
    runtime packs one (`batch_of`)."""

    def __init__(self, offset: int, key: str, value: bytes) -> None:
        super().__init__(offset)
        self._key, self._value = key.encode(), value

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value


def batch_of(offset: int, items: list[tuple[str, bytes]]) -> BytesMessage:
    return BytesMessage(offset, items[0][0], BatchEncoder(CODEC).encode(items))


class FakeConsumer:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def commit(self, asynchronous: bool = True) -> None:
        self.log.append("commit")

    def get_watermark_offsets(self, *_args: object, **_kw: object) -> tuple[int, int]:
        return (0, -1)


def test_a_batch_record_is_written_as_its_events_and_a_bad_item_dead_lettered_alone() -> None:
    kyc = [r for _, r in batch(5)]
    items = [(f"b:{r.player_id}", CODEC.encode(r)) for r in kyc]  # type: ignore[attr-defined]
    items.insert(2, ("b:garbled", b"\x00not avro"))
    log: list[str] = []
    sink = Sink({"p3"})  # the store refuses p3's row
    sink._consumer = FakeConsumer(log)  # type: ignore[assignment]
    original = sink.write

    def write(records):  # type: ignore[no-untyped-def]
        log.append("write")
        return original(records)

    sink.write = write  # type: ignore[method-assign]
    single = BytesMessage(8, "b:p9", CODEC.encode(kyc[0].model_copy(update={"player_id": "p9"})))
    sink._consume_batch = lambda: [batch_of(7, items), single]  # type: ignore[method-assign]
    assert sink.run_once() == 2  # two messages read

    assert sorted(sink.written) == ["p0", "p1", "p2", "p4", "p9"]
    letters = sink.letters()
    assert [(x.offset, x.batch_index) for x in letters] == [(7, 2), (7, 4)]
    assert letters[0].original_key == b"b:garbled" and letters[0].original_value == b"\x00not avro"
    assert letters[1].original_key == b"b:p3" and "value out of range" in letters[1].reason
    assert CODEC.decode(letters[1].original_value) == kyc[3]  # the item's bytes, not the batch's
    assert log[-1] == "commit" and log.count("commit") == 1  # after every write


class BacklogConsumer:
    """A backlog of batch records of `per_record` events each: consume takes what is asked."""

    def __init__(self, per_record: int, records: int) -> None:
        kyc = [r for _, r in batch(per_record)]
        items = [(f"b:{r.player_id}", CODEC.encode(r)) for r in kyc]  # type: ignore[attr-defined]
        self.backlog = [batch_of(n, items) for n in range(records)]

    def consume(self, num_messages: int, timeout: float) -> list[BytesMessage]:
        taken, self.backlog = self.backlog[:num_messages], self.backlog[num_messages:]
        return taken


def test_a_gathering_sink_takes_about_batch_rows_events_not_batch_rows_batch_records() -> None:
    sink = Sink(set())
    sink.settings = Settings(sink_flush_ms=200)
    sink.batch_rows, sink.batch_seconds = 10_000, 1.0  # the ClickHouse sink's
    sink._event_count = EventCounter(CODEC)
    sink._consumer = BacklogConsumer(per_record=300, records=1000)  # type: ignore[assignment]
    taken = sink._consume_batch()
    assert 10_000 <= 300 * len(taken) <= 10_300  # ~10k rows, not 10k records of 300 rows
    singles = Sink(set())
    singles.settings, singles.batch_rows, singles.batch_seconds = sink.settings, 10_000, 1.0
    singles._event_count = EventCounter(CODEC)
    singles._consumer = BacklogConsumer(per_record=1, records=20_000)  # type: ignore[assignment]
    assert len(singles._consume_batch()) == 10_000  # single records: as many as before
