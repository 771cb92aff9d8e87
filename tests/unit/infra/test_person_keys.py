"""The per-person key store: one key per person across processes and restarts, a destroyed key
gone from the file and never made again, a wrong master key refused at start."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from clickpath.domain.privacy import master_key_bytes, open_fields, seal_fields
from clickpath.infra.person_keys import PersonKeyError, PersonKeys, Shredding
from clickpath.settings import Settings

MASTER = master_key_bytes("a master key of the operator's own, 32+ bytes")
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "privacy" / "person-keys.sqlite3"


def test_a_key_is_made_once_and_kept(path: Path) -> None:
    with PersonKeys(path, MASTER) as keys:
        key = keys.key_for("brand-a:p1")
        assert key is not None and len(key) == 32
        assert keys.key_for("brand-a:p1") == key != keys.key_for("brand-a:p2")
        assert keys.existing("brand-a:p1") == key
        assert keys.existing("brand-a:never") is None
        assert keys.key_for("brand-a:never") is not None  # existing() made nothing, key_for does


def test_keys_for_a_batch_agrees_with_key_for(path: Path) -> None:
    ids = [f"brand-a:p{i}" for i in range(1200)] + ["brand-a:p3"]  # more than one SQL chunk, a repeat
    with PersonKeys(path, MASTER) as keys:
        one = keys.key_for("brand-a:p3")
        batch = keys.keys_for(ids)
        assert len(batch) == 1200 and batch["brand-a:p3"] == one
        assert all(batch[i] == keys.key_for(i) for i in ("brand-a:p0", "brand-a:p1199"))
        assert len(set(batch.values())) == 1200


def test_destroy_records_a_tombstone_and_is_idempotent(path: Path) -> None:
    with PersonKeys(path, MASTER) as keys:
        keys.key_for("brand-a:p1")
        first = keys.destroy("brand-a:p1", at=AT, request_id="er-1")
        assert first == Shredding("brand-a:p1", existed=True, erased_at=AT, request_id="er-1")
        again = keys.destroy("brand-a:p1", at=AT + timedelta(days=1), request_id="er-2")
        assert again == first
        never_seen = keys.destroy("brand-a:ghost", at=AT, request_id="er-3")
        assert never_seen.existed is False
        assert keys.erased_at("brand-a:p1") == AT and keys.erased_at("brand-a:p2") is None
        assert [t.key_id for t in keys.tombstones()] == ["brand-a:ghost", "brand-a:p1"]


def test_a_tombstone_blocks_recreation(path: Path) -> None:
    with PersonKeys(path, MASTER) as keys:
        keys.key_for("brand-a:p1")
        keys.destroy("brand-a:p1", at=AT, request_id="er-1")
        assert keys.key_for("brand-a:p1") is None
        assert keys.keys_for(["brand-a:p1", "brand-a:p2"])["brand-a:p1"] is None
        assert keys.existing("brand-a:p1") is None
    with PersonKeys(path, MASTER) as fresh:  # not only the cache: the file says so
        assert fresh.key_for("brand-a:p1") is None


def test_sealed_fields_of_an_erased_person_no_longer_open(path: Path) -> None:
    with PersonKeys(path, MASTER) as keys:
        key = keys.key_for("brand-a:p1")
        assert key is not None
        fields = ["email_hash", "sub1"]
        record = seal_fields(key, "brand-a:p1", {"email_hash": "e" * 64, "sub1": "s"}, fields)
        assert open_fields(keys.existing, record, fields) == {"email_hash": "e" * 64, "sub1": "s"}
        keys.destroy("brand-a:p1", at=AT, request_id="er-1")
        assert open_fields(keys.existing, record, fields) == {"email_hash": None, "sub1": None}


def test_keys_and_tombstones_survive_a_restart(path: Path) -> None:
    with PersonKeys(path, MASTER) as keys:
        kept = keys.key_for("brand-a:kept")
        keys.key_for("brand-a:gone")
        keys.destroy("brand-a:gone", at=AT, request_id="er-1")
    with PersonKeys(path, MASTER) as again:
        assert again.existing("brand-a:kept") == kept
        assert again.key_for("brand-a:gone") is None
        assert again.tombstones() == [Shredding("brand-a:gone", True, AT, "er-1")]


def test_a_wrong_master_key_is_refused_at_start(path: Path) -> None:
    PersonKeys(path, MASTER).close()
    with pytest.raises(PersonKeyError, match="CLICKPATH_MASTER_KEY"):
        PersonKeys(path, master_key_bytes("another master key, also 32 bytes or more"))


def test_a_damaged_wrapped_key_is_an_error_not_garbage(path: Path) -> None:
    with PersonKeys(path, MASTER) as keys:
        keys.key_for("brand-a:p1")
    db = sqlite3.connect(path)
    db.execute("UPDATE person_keys SET key_id = 'brand-a:p2' WHERE key_id = 'brand-a:p1'")  # moved
    db.commit()
    db.close()
    with PersonKeys(path, MASTER) as keys, pytest.raises(PersonKeyError, match="damaged"):
        keys.existing("brand-a:p2")


def test_another_process_sees_a_destruction_within_cache_s(path: Path) -> None:
    clock = Clock()
    reader = PersonKeys(path, MASTER, cache_s=2.0, clock=clock)
    eraser = PersonKeys(path, MASTER)
    try:
        key = reader.key_for("brand-a:p1")
        assert eraser.key_for("brand-a:p1") == key  # cached in the eraser too
        eraser.destroy("brand-a:p1", at=AT, request_id="er-1")
        clock.now += 1.9
        assert reader.key_for("brand-a:p1") == key  # still cached: the documented bound
        clock.now += 0.2
        assert reader.key_for("brand-a:p1") is None
        assert eraser.key_for("brand-a:p1") is None  # the destroying one at once
    finally:
        reader.close()
        eraser.close()


def test_the_cache_is_bounded(path: Path) -> None:
    with PersonKeys(path, MASTER, max_cached=10) as keys:
        keys.keys_for([f"b:p{i}" for i in range(50)])
        assert len(keys._cache) == 10


def test_destroyed_key_bytes_leave_the_file(path: Path) -> None:
    with PersonKeys(path, MASTER) as keys:
        keys.keys_for([f"brand-a:p{i}" for i in range(20)])
    with sqlite3.connect(path) as db:
        wrapped = {k: bytes(w) for k, w in db.execute("SELECT key_id, wrapped FROM person_keys")}
    db.close()
    target = wrapped["brand-a:p7"]

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))

    assert target in on_disk()
    with PersonKeys(path, MASTER) as keys:
        keys.destroy("brand-a:p7", at=AT, request_id="er-1")
        assert target not in on_disk()
        assert wrapped["brand-a:p8"] in on_disk()  # the others are still there
    assert target not in on_disk()


def test_from_settings_uses_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "cp", master_key="m" * 40)
    with PersonKeys.from_settings(settings) as keys:
        assert keys.key_for("brand-a:p1") is not None
    assert (tmp_path / "cp" / "privacy" / "person-keys.sqlite3").is_file()
    assert ((tmp_path / "cp" / "privacy" / "person-keys.sqlite3").stat().st_mode & 0o077) == 0
    with pytest.raises(PersonKeyError):
        PersonKeys.from_settings(settings.with_overrides(master_key=SecretStr("n" * 40)))


def _race(path: str, key_ids: list[str], start: Any, out: Any) -> None:
    """One process: open the store, wait for the start, make every key (a spawned child)."""
    keys = PersonKeys(Path(path), MASTER)
    start.wait()
    out.put({i: keys.key_for(i) for i in key_ids})
    keys.close()


def test_two_processes_racing_key_for_get_the_same_keys(path: Path) -> None:
    """Both also open the store for the first time together (the roles of a fresh `up`)."""
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    ids = [f"brand-a:race-{i}" for i in range(200)]
    procs = [ctx.Process(target=_race, args=(str(path), ids if n == 0 else ids[::-1], start, out))
             for n in range(2)]
    for proc in procs:
        proc.start()
    start.set()
    results = [out.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    assert results[0] == results[1]
    assert all(results[0][i] is not None for i in ids)
    with PersonKeys(path, MASTER) as keys:
        assert keys.keys_for(ids) == results[0]
