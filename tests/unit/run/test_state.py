"""What `clickpath status` makes of the state file `up` keeps, with liveness injected."""

from __future__ import annotations

import json

import pytest

from clickpath.run.state import (
    RoleState,
    UpState,
    assess,
    pid_alive,
    read_state,
    render,
    state_path,
    write_state,
)

UP_PID = 100


def recorded(state: str = "running", roles: tuple[RoleState, ...] | None = None) -> UpState:
    return UpState(
        pid=UP_PID, state=state, broker="127.0.0.1:9092", service_url="http://127.0.0.1:8000",
        data_dir="/data", started_at="2024-05-01T10:00:00+00:00",
        updated_at="2024-05-01T10:05:00+00:00",
        roles=roles if roles is not None else (
            RoleState("worker-0", 101, "running"),
            RoleState("sink-clickhouse", 102, "running"),
            RoleState("api", 103, "restarting", restarts=2),
        ),
    )


def alive_only(*pids: int):
    return lambda pid: pid in pids


def test_no_state_file_means_not_running() -> None:
    status = assess(None, alive_only(), "/data/up-state.json")
    assert not status.up and status.state == "absent"
    assert "not running" in status.message and "/data/up-state.json" in status.message
    out = json.loads(render(status, "json"))
    assert out["up"] is False and out["roles"] == [] and out["broker"] is None


def test_a_running_up_reports_every_role_with_its_pid() -> None:
    status = assess(recorded(), alive_only(UP_PID, 101, 102))
    assert status.up and status.state == "running"
    out = json.loads(render(status, "json"))
    assert out["broker"] == "127.0.0.1:9092"
    assert out["service_url"] == "http://127.0.0.1:8000"
    assert [(r["name"], r["pid"], r["state"]) for r in out["roles"]] == [
        ("worker-0", 101, "running"), ("sink-clickhouse", 102, "running"),
        ("api", 103, "restarting"),  # no process until `up` restarts it: not a failure
    ]


def test_a_role_that_died_since_the_last_write_is_gone() -> None:
    status = assess(recorded(), alive_only(UP_PID, 102))
    assert status.up
    assert {r.name: r.state for r in status.roles}["worker-0"] == "gone"
    assert "not alive: worker-0" in status.message


def test_a_killed_up_shows_its_roles_gone_and_is_not_running() -> None:
    status = assess(recorded(), alive_only())
    assert not status.up and status.state == "gone"
    assert "not running" in status.message and "killed" in status.message
    assert [r.state for r in status.roles] == ["gone", "gone", "gone"]


def test_a_role_outliving_a_killed_up_is_still_shown_running() -> None:
    status = assess(recorded(), alive_only(102))  # still shutting down
    assert not status.up
    assert {r.name: r.state for r in status.roles}["sink-clickhouse"] == "running"


def test_a_stopped_up_is_not_running_even_if_its_pid_was_reused() -> None:
    exited = (RoleState("worker-0", 101, "exited"),)
    status = assess(recorded("stopped", exited), alive_only(UP_PID, 101))
    assert not status.up and status.state == "stopped"
    assert "stopped at 2024-05-01T10:05:00+00:00" in status.message
    assert [r.state for r in status.roles] == ["exited"]


def test_the_table_names_the_broker_the_service_and_each_role() -> None:
    table = render(assess(recorded(), alive_only(UP_PID, 101, 102)), "table")
    lines = table.splitlines()
    assert lines[0] == f"`clickpath up` is running (pid {UP_PID})"
    assert "  Kafka:        127.0.0.1:9092" in lines
    assert "  Service:      http://127.0.0.1:8000" in lines
    assert [line.split()[:3] for line in lines[-3:]] == [
        ["worker-0", "101", "running"], ["sink-clickhouse", "102", "running"],
        ["api", "103", "restarting"],
    ]


def test_the_table_is_empty_without_a_state_file() -> None:
    assert render(assess(None, alive_only(), "x"), "table") == ""


def test_the_file_round_trips_and_replaces_the_previous_state(tmp_path) -> None:
    path = state_path(tmp_path / "data")
    write_state(path, recorded())
    write_state(path, recorded("stopping"))
    assert read_state(path) == recorded("stopping")
    assert [p.name for p in path.parent.iterdir()] == ["up-state.json"]  # no temporary left


def test_reading_without_a_file_is_none_and_garbage_is_an_error(tmp_path) -> None:
    path = tmp_path / "up-state.json"
    assert read_state(path) is None
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        read_state(path)
    path.write_text(json.dumps({"pid": 1}))
    with pytest.raises(ValueError, match="not a clickpath up state"):
        read_state(path)


def test_no_pid_zero_or_below_is_alive() -> None:
    # os.kill(0, 0) would probe our own process group: never take it for a live role.
    assert not pid_alive(0) and not pid_alive(-1)
