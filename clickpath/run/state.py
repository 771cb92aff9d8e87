"""The `clickpath up` state file, and what `clickpath status` makes of it.

`up` rewrites <data_dir>/up-state.json when it starts, whenever a role changes state and once
more when it stops, atomically (a temporary file, then os.replace), so a reader never sees half
a file. The file alone cannot be trusted: an `up` killed with SIGKILL never marks it stopped.
So `status` checks every recorded PID, and a role whose process is no longer alive is `gone`.

The record and its assessment are pure (`assess` takes the liveness check as a function); the
file I/O and the /proc check are the few functions at the bottom.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from clickpath.infra.jsonstore import write_json_atomic

STATE_FILE_NAME = "up-state.json"

# What `up` records for a role: its process runs; it died and waits for its restart (with
# backoff); or it has no process (stopped with `up`).
RUNNING, RESTARTING, EXITED = "running", "restarting", "exited"
# What `status` says of a process recorded as alive that no longer is (a killed `up`, a crash).
GONE = "gone"
# What `up` records for itself; `status` adds GONE (killed) and ABSENT (no state file).
UP_RUNNING, UP_STOPPING, UP_STOPPED = "running", "stopping", "stopped"
ABSENT = "absent"


@dataclass(frozen=True)
class RoleState:
    name: str
    pid: int | None
    state: str
    restarts: int = 0


@dataclass(frozen=True)
class UpState:
    """What `up` last wrote: its own PID and state, where to reach the pipeline, every role."""

    pid: int
    state: str
    broker: str | None
    service_url: str
    data_dir: str
    started_at: str
    updated_at: str
    roles: tuple[RoleState, ...] = ()
    broker_compat: str | None = None  # "tansu" for the embedded broker: clients apply it too
    demo: bool = False  # `up --demo`: commands aimed at it may use the shipped audit key too

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"roles": [asdict(r) for r in self.roles]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UpState:
        """Raises ValueError when `data` is not a state `up` wrote."""
        try:
            roles = tuple(RoleState(**r) for r in data.get("roles", []))
            return cls(**{**data, "roles": roles})
        except TypeError as e:
            raise ValueError(f"not a clickpath up state: {e}") from None


@dataclass(frozen=True)
class Status:
    """`up` as `status` reports it. `up` is True only while its process is alive; `state` is
    running or stopping (alive), stopped (it marked the file so), gone (killed without marking
    it) or absent (no state file)."""

    up: bool
    state: str
    message: str
    recorded: UpState | None = None
    path: str = ""
    roles: tuple[RoleState, ...] = ()

    def to_json(self) -> dict[str, Any]:
        r = self.recorded
        return {
            "up": self.up,
            "state": self.state,
            "message": self.message,
            "pid": r.pid if r else None,
            "broker": r.broker if r else None,
            "service_url": r.service_url if r else None,
            "data_dir": r.data_dir if r else None,
            "started_at": r.started_at if r else None,
            "updated_at": r.updated_at if r else None,
            "state_file": self.path,
            "roles": [asdict(role) for role in self.roles],
        }


def assess(recorded: UpState | None, alive: Callable[[int], bool], path: str = "") -> Status:
    """Compare what `up` recorded with which of its processes are alive."""
    if recorded is None:
        return Status(False, ABSENT, f"`clickpath up` is not running (no state file at {path})",
                      path=path)

    up_alive = recorded.state != UP_STOPPED and alive(recorded.pid)

    def role_now(role: RoleState) -> RoleState:
        # A restarting role has no process until `up` restarts it: only a live `up` will.
        expected = role.state == RUNNING or (role.state == RESTARTING and not up_alive)
        if expected and (role.pid is None or not alive(role.pid)):
            return replace(role, state=GONE)
        return role

    roles = tuple(role_now(r) for r in recorded.roles)
    if recorded.state == UP_STOPPED:
        message = f"`clickpath up` is not running (it stopped at {recorded.updated_at})"
        return Status(False, UP_STOPPED, message, recorded, path, roles)
    if not up_alive:
        message = (f"`clickpath up` is not running: its process {recorded.pid} is gone without"
                   f" stopping (killed?); last update {recorded.updated_at}")
        return Status(False, GONE, message, recorded, path, roles)
    message = f"`clickpath up` is {recorded.state} (pid {recorded.pid})"
    if gone := [r.name for r in roles if r.state == GONE]:
        message += f"; not alive: {', '.join(gone)}"
    return Status(True, recorded.state, message, recorded, path, roles)


def render_table(status: Status) -> str:
    """The human view: where to reach the pipeline, then one line per role."""
    s = status.recorded
    if s is None:
        return ""
    # When `up` is not running, the reason goes to stderr (the command's error), not here twice.
    lines = [
        status.message if status.up else f"Last recorded in {status.path}:",
        f"  Kafka:        {s.broker}",
        f"  Service:      {s.service_url}",
        f"  Started:      {s.started_at}  (updated {s.updated_at})",
        f"  {'ROLE':18} {'PID':>8}  {'STATE':11} RESTARTS",
    ]
    for r in status.roles:
        pid = "-" if r.pid is None else str(r.pid)
        lines.append(f"  {r.name:18} {pid:>8}  {r.state:11} {r.restarts}")
    return "\n".join(lines) + "\n"


def render(status: Status, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(status.to_json(), indent=2) + "\n"
    return render_table(status)


# --- I/O: the file and the processes -------------------------------------------------------


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE_NAME


def write_state(path: Path, state: UpState) -> None:
    """Replace the file in one step: a reader sees the old state or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, state.to_json(), indent=1, mode=0o600)


def read_state(path: Path) -> UpState | None:
    """None when there is no file; ValueError when it is not one `up` wrote."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a clickpath up state")
    return UpState.from_json(data)


def pid_alive(pid: int) -> bool:
    """True if `pid` is a live clickpath process: not a zombie, and not the PID reused by
    another program since `up` recorded it."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive but another user's: the command line below decides
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return True  # no /proc here: the signal check is all there is
    try:
        if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return b"clickpath" in (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False


def current_status(data_dir: Path) -> Status:
    """Read the state file under `data_dir` and check its processes (ValueError: unreadable)."""
    path = state_path(data_dir)
    return assess(read_state(path), pid_alive, str(path))
