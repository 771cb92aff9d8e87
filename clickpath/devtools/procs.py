"""Run pipeline roles as child processes and wait for conditions: for the benchmark and tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from clickpath.infra.procs import die_with_parent
from clickpath.settings import Settings

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """A condition did not come true in time; says what was awaited and what was last seen."""


def wait_until(
    check: Callable[[], T | None], timeout_s: float, what: str, every_s: float = 0.2
) -> T:
    """Poll `check` until it returns something truthy; fail with `what` and the last value."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise WaitTimeout(f"timed out after {timeout_s}s waiting for {what}; last saw {last!r}")


class RoleProcess:
    """`python -m clickpath.run.cli ARGS` (or another module) with `settings` in its environment,
    and `env` (variables that are not settings, e.g. the test-only CLICKPATH_FAULT_AT) on top."""

    def __init__(
        self, settings: Settings, *args: str, log_dir: Path, module: str = "clickpath.run.cli",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.args = args
        self.module = module
        self.env = dict(env or {})
        self.log_path = log_dir / f"{'-'.join(args)}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RoleProcess:
        env = {**os.environ, **self.settings.to_env(), **self.env}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent,
            )
        return self

    def _started(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            raise RuntimeError(f"{' '.join(self.args)}: not started (call start() first)")
        return self.proc

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to commit or flush."""
        proc = self._started()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self, timeout_s: float = 20) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    @property
    def pid(self) -> int:
        return self._started().pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def peak_rss_mib(pid: int) -> float | None:
    """The peak resident memory of a live process (VmHWM), in MiB; None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
