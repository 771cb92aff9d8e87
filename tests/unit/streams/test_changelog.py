"""The changelog writer never lets the local store get ahead of the changelog (issue 22, P5): a
value is read back at once, but the store takes it only with the flush that acknowledged it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clickpath.infra.producer import NotAcknowledged
from clickpath.streams.changelog import ChangelogWriter


class Store(dict[str, Any]):
    """Faust's memory store: values by key, and the persisted offsets it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.persisted: dict[int, int] = {}

    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        self.persisted[tp.partition] = offset


class Serializers:
    def dumps_key(self, key_type: Any, key: str, serializer: Any = None) -> bytes:
        return key.encode()


class Table:
    name = "players"
    value_serializer = "json"
    key_type, key_serializer = str, None

    def __init__(self) -> None:
        self.data = Store()
        self.app = type("App", (), {"serializers": Serializers()})()
        self.changelog_topic = type("T", (), {"get_topic_name": lambda self: "players-changelog"})()

    def get(self, key: str) -> Any:
        return self.data.get(key)


class Delivered:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


class Producer:
    """Delivers only when flushed, in order, each partition's offsets counting from 0.
    `during_flush` runs once the flush has begun (an agent writing meanwhile)."""

    def __init__(self) -> None:
        self.queued: list[tuple[int, Callable[..., None]]] = []
        self.offsets: dict[int, int] = {}
        self.during_flush: Callable[[], None] | None = None
        self.fail = False
        self.reverse = False  # serve reports newest first (another thread served the older)

    def produce(self, topic: str, key: bytes, value: bytes, partition: int,
                on_delivery: Callable[..., None]) -> None:
        self.queued.append((partition, on_delivery))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        if self.during_flush is not None:
            hook, self.during_flush = self.during_flush, None
            hook()
        delivering, self.queued = self.queued, []
        reports = []
        for partition, report in delivering:
            offset = self.offsets[partition] = self.offsets.get(partition, -1) + 1
            err = type("E", (), {"str": lambda self: "broker down"})() if self.fail else None
            reports.append((report, err, Delivered(partition, offset)))
        for report, err, delivered in reversed(reports) if self.reverse else reports:
            report(err, delivered)
        return 0


def writer() -> tuple[ChangelogWriter, Table, Producer]:
    table, producer = Table(), Producer()
    return ChangelogWriter(table, producer), table, producer  # type: ignore[arg-type]


def test_a_value_is_read_back_at_once_and_stored_only_once_acknowledged() -> None:
    log, table, _ = writer()
    log.put("p1", {"v": 1}, partition=2)
    assert log.get("p1") == {"v": 1}
    assert table.data == {}  # a kill now leaves the store as it was

    log.flush()
    assert table.data == {}  # acknowledged, not yet applied: the offset goes with it
    log.persist_offsets()
    assert table.data == {"p1": {"v": 1}}
    assert table.data.persisted == {2: 0}
    assert log.get("p1") == {"v": 1}


def test_a_write_made_while_a_flush_runs_waits_for_the_next_one() -> None:
    log, table, producer = writer()
    log.put("p1", {"v": 1}, partition=0)
    producer.during_flush = lambda: log.put("p1", {"v": 2}, partition=0)
    log.flush()  # acknowledges both
    log.persist_offsets()
    assert table.data == {"p1": {"v": 1}}  # the value written before the flush began
    assert table.data.persisted == {0: 0}  # not past it: a restart reads offset 1 again
    assert log.get("p1") == {"v": 2}

    log.flush()
    log.persist_offsets()
    assert table.data == {"p1": {"v": 2}}
    assert log.get("p1") == {"v": 2}


def test_a_failed_flush_applies_nothing() -> None:
    log, table, producer = writer()
    producer.fail = True
    log.put("p1", {"v": 1}, partition=0)
    with pytest.raises(NotAcknowledged):
        log.flush()
    log.persist_offsets()
    assert table.data == {} and table.data.persisted == {}
    assert log.get("p1") == {"v": 1}


def test_writes_to_a_revoked_partition_are_forgotten() -> None:
    log, table, _ = writer()
    log.put("p1", {"v": 1}, partition=0)
    log.put("p2", {"v": 1}, partition=1)
    log.revoked([0])
    assert log.get("p1") is None
    assert log.get("p2") == {"v": 1}


def test_reports_served_out_of_order_still_cover_only_what_the_flush_began_with() -> None:
    """Reports are served by whichever thread polls: a write made during the flush may be
    reported before the older ones, and must still wait for the next flush."""
    log, table, producer = writer()
    log.put("p1", {"v": 1}, partition=0)
    producer.reverse = True
    producer.during_flush = lambda: log.put("p2", {"v": 1}, partition=0)
    log.flush()
    log.persist_offsets()
    assert table.data == {"p1": {"v": 1}}
    assert table.data.persisted == {0: 0}  # not offset 1, whose value is not in the store yet


def test_after_a_failed_record_nothing_more_is_persisted() -> None:
    """A failed record's value must never reach the store by a later flush's marks."""
    log, table, producer = writer()
    producer.fail = True
    log.put("p1", {"v": 1}, partition=0)
    with pytest.raises(NotAcknowledged):
        log.flush()
    producer.fail = False
    log.put("p2", {"v": 1}, partition=0)
    with pytest.raises(NotAcknowledged, match="failed earlier"):
        log.flush()
    log.persist_offsets()
    assert table.data == {} and table.data.persisted == {}


def test_table_keys_keep_the_bytes_earlier_versions_stored_whatever_json_faust_uses() -> None:
    # Stores written before orjson was installed hold keys as stdlib json wrote them (ASCII,
    # non-ASCII escaped); orjson would write UTF-8, and a lookup would miss those rows.
    import json

    import faust

    from clickpath.streams.changelog import with_ascii_keys

    app = faust.App("keys-test", broker="memory://")
    table = with_ascii_keys(app.Table("players", default=None, key_type=str))
    assert table.changelog_topic.key_serializer == table.data.key_serializer == table.key_serializer
    key = "brand-ä:joão\x1fT|d|t1"
    raw = app.serializers.dumps_key(str, key, serializer=table.key_serializer)
    assert raw == json.dumps(key).encode() == b'"brand-\\u00e4:jo\\u00e3o\\u001fT|d|t1"'
    assert app.serializers.loads_key(str, raw, serializer=table.key_serializer) == key
