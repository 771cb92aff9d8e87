"""A failing partner under `clickpath up --demo` is visible (issue 21, item 8): an endpoint
added while it runs (for a demo affiliate, which `postbacks add` knows while the demo runs)
whose partner refuses connections shows on the status line as failing, retrying, and in
`clickpath postbacks list` with its counts, read from the delivery engine's metrics."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import pytest

from clickpath.infra.broker import free_port
from tests.integration.harness import processes_with, up_environment, wait_until


def clickpath(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clickpath.run.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)




@pytest.fixture
def up_env(tmp_path) -> dict[str, str]:
    return up_environment(tmp_path, "up-delivery-health-test-key-0123456789")


def test_a_partner_that_refuses_connections_shows_as_failing(up_env) -> None:
    up = subprocess.Popen(
        [sys.executable, "-m", "clickpath.run.cli", "up", "--demo", "--rate", "80", "--status-every", "1"],
        env=up_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(up.stdout or ()), daemon=True)
    reader.start()
    closed = free_port()  # nothing listens there: every attempt is refused, and retried
    admin_env = {**up_env, "CLICKPATH_EGRESS_ALLOW": '["127.0.0.1/32"]'}
    try:
        wait_until(lambda: clickpath("status", env=up_env).returncode == 0, 120, "up running", 1)
        added = clickpath("postbacks", "add", "broken", "--affiliate", "aff-alpha", "--events",
                          "registration,ftd", "--url", f"http://127.0.0.1:{closed}/pb?c={{click_id}}",
                          env=admin_env)
        assert added.returncode == 0, added.stderr

        def broken_health():
            listed = clickpath("postbacks", "list", "--format", "json", env=up_env)
            [row] = json.loads(listed.stdout)
            health = row["health"]
            return health if health and health["retrying"] > 0 else None

        health = wait_until(broken_health, 180, "retrying deliveries of the broken endpoint", 2)
        assert health["delivered"] == 0
        failing = wait_until(
            lambda: next((ln for ln in lines if " · failing: " in ln and "broken (" in ln), None), 30,
            "a status line naming the broken endpoint", 1)
        print(failing.strip())  # shown with -s: what a newcomer sees
        table = clickpath("postbacks", "list", env=up_env)
        assert table.stdout.splitlines()[0].split()[-4:] == ["DELIVERED", "FAILED", "RETRYING", "CIRCUIT"]
        assert "aff-alpha-default" in table.stderr  # the demo's own endpoints, configured in up's env
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
        reader.join(10)
    assert up.returncode == 0, "".join(lines[-40:])
    assert processes_with(up_env["CLICKPATH_DATA_DIR"]) == []
