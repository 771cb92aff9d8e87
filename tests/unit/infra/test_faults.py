"""The test-only crash hook: refused outside tests, kills (raises) at exactly the n-th pass."""

from __future__ import annotations

import pytest

from clickpath.infra import faults


@pytest.fixture(autouse=True)
def _disarm():
    yield
    faults.arm(None)
    faults._before_kill.clear()


def test_refused_without_the_testing_flag() -> None:
    with pytest.raises(faults.FaultRefused, match="test-only"):
        faults.install_from_env({faults.ENV: "players.after_rows:1"})


def test_unknown_point_and_bad_count_are_named() -> None:
    testing = {faults.TESTING_ENV: "1"}
    with pytest.raises(faults.FaultRefused, match="unknown point 'players.nowhere'"):
        faults.install_from_env({**testing, faults.ENV: "players.nowhere:1"})
    with pytest.raises(faults.FaultRefused, match="<point>:<n>"):
        faults.install_from_env({**testing, faults.ENV: "players.after_rows:0"})


def test_unset_arms_nothing() -> None:
    assert faults.install_from_env({faults.TESTING_ENV: "1"}) is None
    faults.fault_point("players.after_rows")  # passes quietly


def test_kills_at_the_nth_pass_after_the_registered_flush() -> None:
    plan = faults.install_from_env({faults.TESTING_ENV: "1", faults.ENV: "players.after_rows:3"})
    assert plan is not None
    plan.raise_instead = True
    flushed: list[str] = []
    faults.on_kill("changelog", lambda: flushed.append("flushed"))
    faults.fault_point("players.after_rows")
    faults.fault_point("players.after_state")  # another point does not count
    faults.fault_point("players.after_rows")
    assert flushed == []
    with pytest.raises(faults.Killed):
        faults.fault_point("players.after_rows")
    assert flushed == ["flushed"]
    assert plan.seen == 3


def test_a_role_refuses_to_start_with_the_hook_outside_tests(monkeypatch) -> None:
    from clickpath.run.errors import CommandError
    from clickpath.run.guards import arm_fault_hook

    monkeypatch.setenv(faults.ENV, "sink.before_commit:1")
    monkeypatch.delenv(faults.TESTING_ENV, raising=False)
    with pytest.raises(CommandError, match="`clickpath sink clickhouse` will not start: .*test-only"):
        arm_fault_hook("sink clickhouse")
