"""Which running `clickpath up` a client command uses (clickpath.run.instances): the choice,
the settings aimed at it, and the per-user registry, with liveness injected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clickpath.run.instances import (
    Ambiguous,
    Running,
    choose,
    pointed_at,
    register,
    registered,
    unregister,
)
from clickpath.run.state import UpState, state_path, write_state
from clickpath.settings import Settings


def up(data_dir: str, pid: int = 100, port: int = 8000, broker: str = "127.0.0.1:39001") -> UpState:
    return UpState(pid=pid, state="running", broker=broker, service_url=f"http://127.0.0.1:{port}",
                   data_dir=data_dir, started_at="2026-01-05T10:00:00+00:00",
                   updated_at="2026-01-05T10:00:00+00:00", broker_compat="tansu")


def test_the_instance_in_this_directory_or_the_named_data_dir_wins() -> None:
    here, other = Running(up("/here/.clickpath")), Running(up("/elsewhere/.clickpath", pid=7))
    assert choose(here, [other], dir_given=False) is here
    assert choose(None, [other], dir_given=True) is None  # CLICKPATH_DATA_DIR names one: only it


def test_from_another_directory_the_one_registered_instance() -> None:
    other = Running(up("/elsewhere/.clickpath", pid=7))
    assert choose(None, [other], dir_given=False) is other
    assert choose(None, [], dir_given=False) is None


def test_several_instances_and_none_here_asks_for_the_data_dir() -> None:
    a, b = Running(up("/a/.clickpath", pid=7)), Running(up("/b/.clickpath", pid=8, port=8001))
    with pytest.raises(Ambiguous) as refused:
        choose(None, [a, b], dir_given=False)
    message = str(refused.value)
    assert "2 `clickpath up` instances are running" in message
    assert "/a/.clickpath (pid 7" in message and "/b/.clickpath (pid 8" in message
    assert "CLICKPATH_DATA_DIR" in message and refused.value.code == 2
    assert choose(None, [a, b], dir_given=False, port=8001) is b  # CLICKPATH_HTTP_PORT picks


def test_settings_aimed_at_the_instance_unless_set_explicitly(tmp_path) -> None:
    running = Running(up(str(tmp_path / "cp"), port=8123, broker="127.0.0.1:39999"))
    aimed = pointed_at(Settings(), running)
    assert aimed.data_dir == tmp_path / "cp" and aimed.service_url == "http://127.0.0.1:8123"
    assert aimed.kafka_bootstrap_servers == "127.0.0.1:39999" and aimed.tansu_compat
    assert aimed.key_store_path == tmp_path / "cp" / "api-keys.json"
    own = pointed_at(Settings(kafka_bootstrap_servers="kafka:9092", http_port=9000), running)
    assert own.kafka_bootstrap_servers == "kafka:9092" and own.http_port == 9000


def test_the_registry_lists_live_instances_and_forgets_dead_ones(tmp_path) -> None:
    instances = tmp_path / "instances"
    live, dead, taken = tmp_path / "live", tmp_path / "dead", tmp_path / "taken"
    for data_dir, pid in ((live, 10), (dead, 11), (taken, 12)):
        write_state(state_path(data_dir), up(str(data_dir), pid=pid))
        register(instances, data_dir, pid)
    write_state(state_path(taken), up(str(taken), pid=13))  # another `up` runs there now
    alive = {10, 12, 13}.__contains__
    found = registered(instances, alive)
    assert [r.data_dir for r in found] == [live]
    assert len(list(instances.glob("*.json"))) == 1  # the dead and the stale entry are gone


def test_unregister_removes_only_its_own_entry(tmp_path) -> None:
    instances, data_dir = tmp_path / "instances", tmp_path / "cp"
    register(instances, data_dir, 10)
    unregister(instances, data_dir, 99)  # an older `up` on the same dir stopping late
    assert len(list(instances.glob("*.json"))) == 1
    unregister(instances, data_dir, 10)
    assert list(instances.glob("*.json")) == []


def test_an_unreadable_entry_is_skipped(tmp_path) -> None:
    instances = tmp_path / "instances"
    instances.mkdir()
    (instances / "junk.json").write_text("{not json")
    (instances / "other.json").write_text(json.dumps({"pid": 1}))
    assert registered(instances, lambda pid: True) == []


def test_the_registry_is_per_user_runtime_state() -> None:
    from clickpath.settings import default_instances_dir

    assert default_instances_dir({"XDG_RUNTIME_DIR": "/"}) == Path("/clickpath/instances")
    fallback = default_instances_dir({"XDG_RUNTIME_DIR": "/no/such/dir"})
    assert fallback == Path.home() / ".local" / "state" / "clickpath" / "instances"
