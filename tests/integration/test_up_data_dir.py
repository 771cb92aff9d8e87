"""`clickpath up` and its data directory: one `up` per directory (a second one refuses, the first
runs on), and what the directory keeps across a stop and start (issue 21, items 2 and 3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from clickpath.infra.broker import free_port
from tests.integration.harness import holds_for, wait_until


def clickpath(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clickpath.run.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def status(env: dict[str, str]) -> dict:
    return json.loads(clickpath("status", "--format", "json", env=env).stdout)


def every_role_running(env: dict[str, str]) -> dict | None:
    s = status(env)
    return s if s["up"] and s["roles"] and all(r["state"] == "running" for r in s["roles"]) else None


@pytest.fixture
def up_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKPATH_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(CLICKPATH_HTTP_PORT=str(free_port()), CLICKPATH_DATA_DIR=str(tmp_path / "cp"),
               CLICKPATH_PARTITIONS="2", CLICKPATH_PSEUDONYM_KEY="up-data-dir-test-key")
    return env


def start_up(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "clickpath.run.cli", "up"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop_up(up: subprocess.Popen[str]) -> str:
    """Ctrl-C, as a user stops it; its whole console output."""
    if up.poll() is None:
        up.send_signal(signal.SIGINT)
    output, _ = up.communicate(timeout=120)
    return output


def test_a_second_up_on_a_data_dir_in_use_refuses_and_the_first_runs_on(up_env) -> None:
    first = start_up(up_env)
    try:
        wait_until(lambda: every_role_running(up_env), 120, "the first `up` to run every role")
        # What README used to advise: another HTTP port, the same checkout (so the same data dir).
        second = clickpath("up", env={**up_env, "CLICKPATH_HTTP_PORT": str(free_port())})
        assert second.returncode == 2, second
        assert (f"{up_env['CLICKPATH_DATA_DIR']} is in use by clickpath up (pid {first.pid});"
                " stop it, or set CLICKPATH_DATA_DIR to another directory") in second.stderr
        assert "clickpath is up." not in second.stdout
        holds_for(lambda: first.poll() is None and every_role_running(up_env) is not None,
                  "the first `up` running, its status up, every role running", settle_s=5)
        assert status(up_env)["pid"] == first.pid
    finally:
        output = stop_up(first)
    assert first.returncode == 0, output
