"""Waiting for a condition: a timeout is its own exception, never an AssertionError."""

from __future__ import annotations

import pytest

from clickpath.devtools.procs import RoleProcess, WaitTimeout, wait_until
from clickpath.settings import Settings


def test_wait_until_returns_the_first_truthy_value() -> None:
    seen = iter([None, 0, {"rows": 3}])
    assert wait_until(lambda: next(seen), 5, "rows", every_s=0) == {"rows": 3}


def test_a_timeout_says_what_was_awaited_and_what_was_last_seen() -> None:
    with pytest.raises(WaitTimeout, match=r"waiting for the sink; last saw \[\]") as err:
        wait_until(lambda: [], 0.05, "the sink", every_s=0.01)
    assert isinstance(err.value, TimeoutError)
    assert not isinstance(err.value, AssertionError)


def test_a_role_process_used_before_it_starts_is_an_error(tmp_path) -> None:
    role = RoleProcess(Settings(data_dir=tmp_path), "sink", "clickhouse", log_dir=tmp_path)
    assert not role.running
    with pytest.raises(RuntimeError, match="sink clickhouse: not started"):
        _ = role.pid
    with pytest.raises(RuntimeError, match="not started"):
        role.kill()
    role.stop()  # stopping what never ran is fine
