"""`clickpath up`: the embedded broker plus every role, each in its own supervised process.

Two cores need two processes, and one role's crash must not take the others down: each role
is a child process; one that dies is logged and restarted with backoff. Ctrl-C (or SIGTERM)
stops them all, children first, then the broker. Every change of a role's state (running,
restarting, exited) is reported to `on_change`, which keeps `clickpath status` current.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from clickpath.infra.metrics import ROLE_RESTARTS
from clickpath.infra.procs import die_with_parent
from clickpath.run.state import EXITED, RESTARTING, RUNNING

log = structlog.get_logger(__name__)

# What the `up` console says of each event here: a person reads it (roles' own logs stay JSON).
CONSOLE_MESSAGES = {
    "role_started": "{role} started (pid {pid})",
    "role_died": "{role} exited with code {code}; restarting it in {restart_in_s:g} s (its log: {log})",
    "role_restarted": "{role} restarted ({restarts} restarts so far)",
    "role_killed": "{role} did not stop in time: killed",
}


@dataclass
class Role:
    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    state: str = EXITED  # no process until start()

    def start(self, base_env: dict[str, str], log_dir: Path) -> None:
        out = (log_dir / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clickpath.run.cli", *self.args],
            env={**base_env, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops children
            preexec_fn=die_with_parent,
        )
        out.close()
        self.state = RUNNING


class Supervisor:
    def __init__(
        self,
        roles: list[Role],
        env: dict[str, str],
        log_dir: Path,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.roles = roles
        self.env = env
        self.log_dir = log_dir
        self.on_change = on_change
        self.stopping = threading.Event()

    def start_all(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for role in self.roles:
            role.start(self.env, self.log_dir)
            log.info("role_started", role=role.name, pid=role.proc.pid if role.proc else None)
        self.on_change()

    def check(self, now: float | None = None) -> None:
        """Restart any role that died, with exponential backoff per role (`now`: monotonic s)."""
        now = time.monotonic() if now is None else now
        changed = False
        for role in self.roles:
            if role.proc is None or role.proc.poll() is None:
                continue
            if role.next_start == 0.0:
                delay = min(2.0 ** role.restarts, 30.0)
                role.next_start = now + delay
                role.state = RESTARTING
                changed = True
                log.error("role_died", role=role.name, code=role.proc.returncode,
                          restart_in_s=delay, log=str(self.log_dir / f"{role.name}.log"))
                _mark_dead(role.proc.pid)
            elif now >= role.next_start:
                role.restarts += 1
                role.next_start = 0.0
                ROLE_RESTARTS.labels(role.name).inc()
                role.start(self.env, self.log_dir)
                changed = True
                log.info("role_restarted", role=role.name, restarts=role.restarts)
        if changed:
            self.on_change()

    def stop_all(self, timeout_s: float = 15.0) -> None:
        self.stopping.set()
        for role in reversed(self.roles):
            if role.proc and role.proc.poll() is None:
                role.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for role in self.roles:
            if role.proc is None:
                continue
            try:
                role.proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("role_killed", role=role.name)
                os.killpg(role.proc.pid, signal.SIGKILL)
                role.proc.wait()
        for role in self.roles:
            role.state = EXITED
        self.on_change()


def _mark_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def fresh_dir(path: Path) -> Path:
    """An empty directory at `path`: what an earlier run left there is stale."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
