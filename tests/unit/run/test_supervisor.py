"""The supervisor's role states (what `clickpath status` shows), with stand-in processes."""

from __future__ import annotations

import itertools
from pathlib import Path

from clickpath.run.supervisor import Role, Supervisor

PIDS = itertools.count(1000)


class FakeProc:
    """Stands in for a role's child process: it runs until the test ends it."""

    def __init__(self) -> None:
        self.pid = next(PIDS)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, _sig: int) -> None:
        self.returncode = -15

    def wait(self, _timeout: float | None = None) -> int | None:
        return self.returncode


class FakeRole(Role):
    def start(self, base_env: dict[str, str], log_dir: Path) -> None:
        self.proc = FakeProc()  # type: ignore[assignment]
        self.state = "running"


def test_a_role_that_dies_is_restarting_then_running_under_a_new_pid(tmp_path) -> None:
    changes: list[list[tuple[str, str]]] = []
    roles = [FakeRole("worker-0", []), FakeRole("api", [])]
    sup = Supervisor(roles, {}, tmp_path,
                     on_change=lambda: changes.append([(r.name, r.state) for r in roles]))
    sup.start_all()
    assert changes == [[("worker-0", "running"), ("api", "running")]]
    first_pid = roles[1].proc.pid

    roles[1].proc.returncode = 1  # type: ignore[union-attr]
    sup.check(now=100.0)
    assert changes[-1] == [("worker-0", "running"), ("api", "restarting")]
    sup.check(now=100.5)  # still backing off (1 s): nothing changed, nothing written
    assert len(changes) == 2
    sup.check(now=101.0)
    assert changes[-1] == [("worker-0", "running"), ("api", "running")]
    assert roles[1].proc.pid != first_pid and roles[1].restarts == 1


def test_stopping_marks_every_role_exited(tmp_path) -> None:
    changes: list[list[str]] = []
    roles = [FakeRole("worker-0", []), FakeRole("api", [])]
    sup = Supervisor(roles, {}, tmp_path, on_change=lambda: changes.append([r.state for r in roles]))
    sup.start_all()
    sup.stop_all()
    assert changes[-1] == ["exited", "exited"]
    assert all(r.proc is not None and r.proc.poll() is not None for r in roles)
