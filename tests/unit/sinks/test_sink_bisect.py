"""A batch the store refuses for a reason retrying cannot cure is split until the refused rows
stand alone: they go to the dead-letter topic with the reason and where they were, the rest is
written, and the sink commits. A passing failure keeps the back-pressure (issue 13, High 2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from clickpath.contracts.models import DeadLetter, Kyc, Record
from clickpath.contracts.serde import build_codec
from clickpath.infra.clickhouse import is_unwritable
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
