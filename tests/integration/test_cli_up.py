"""`clickpath up --demo` as a newcomer runs it: report shows funnel rows, Ctrl-C stops it all;
`clickpath status` as an SRE's script reads it: every role with a live PID, and the truth after
a clean stop or a kill."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from clickpath.infra.clickhouse import connect
from clickpath.settings import Settings
from tests.integration.harness import processes_with, up_environment, wait_until


def clickpath(*args: str, env: dict[str, str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clickpath.run.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, **kw)


DEMO_ROLES = {"worker-0", "sink-clickhouse", "sink-postbacks", "api", "demo-receiver", "demo-traffic"}


def status_json(env: dict[str, str]) -> tuple[int, dict, str]:
    result = clickpath("status", "--format", "json", env=env)
    return result.returncode, json.loads(result.stdout), result.stderr


def alive(pid: int) -> bool:
    """A live, non-zombie process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False




@pytest.fixture
def up_env(tmp_path) -> dict[str, str]:
    return up_environment(tmp_path, "cli-up-test-key-0123456789abcdefgh")


def test_up_with_demo_traffic_serves_a_report_and_stops_cleanly(up_env, tmp_path) -> None:
    up = subprocess.Popen(
        [sys.executable, "-m", "clickpath.run.cli", "up", "--demo", "--rate", "80"],
        env=up_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        def affiliates_with_deposits():
            result = clickpath("report", "--format", "json", env=up_env)
            if result.returncode != 0:
                return None
            rows = json.loads(result.stdout)
            paid = [r for r in rows if r["affiliate_id"].startswith("aff-") and r["ftds"] > 0]
            return rows if len(paid) >= 2 else None

        rows = wait_until(affiliates_with_deposits, 120, "funnel rows for demo affiliates", 2)
        for row in rows:
            assert row["clicks"] >= row["registrations"] or row["affiliate_id"] == "(unattributed)"
        base = f"http://127.0.0.1:{up_env['CLICKPATH_HTTP_PORT']}"
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        metrics = httpx.get(f"{base}/metrics").text
        assert 'clickpath_events_total{outcome="accepted",stage="players"}' in metrics
        assert 'clickpath_deliveries_total{kind="postback",outcome="delivered"}' in metrics
        receiver_log = Path(up_env["CLICKPATH_DATA_DIR"]) / "logs" / "demo-receiver.log"
        assert "event=ftd" in receiver_log.read_text()
        table = clickpath("report", env=up_env).stdout
        assert "aff-alpha" in table or "aff-beta" in table or "aff-gamma" in table

        code, status, _ = status_json(up_env)
        assert code == 0 and status["up"] is True and status["state"] == "running"
        assert status["pid"] == up.pid
        assert status["service_url"] == base
        roles = {r["name"]: r for r in status["roles"]}
        assert set(roles) == DEMO_ROLES
        for role in roles.values():
            assert role["state"] == "running" and alive(role["pid"]), role
        cmdline = Path(f"/proc/{roles['sink-clickhouse']['pid']}/cmdline").read_bytes()
        assert b"sink\0clickhouse" in cmdline  # the PID is that role's process
        table = clickpath("status", env=up_env)
        assert table.returncode == 0
        assert f"  Kafka:        {status['broker']}" in table.stdout.splitlines()
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert "clickpath is up." in output and "clickpath: stopped." in output
    # Scripts read the broker's address from the banner: the one `status` gives.
    assert re.search(r"^  Kafka:\s+(\S+)", output, re.M).group(1) == status["broker"]
    assert processes_with(up_env["CLICKPATH_DATA_DIR"]) == []
    code, stopped, err = status_json(up_env)
    assert code == 1 and stopped["up"] is False and stopped["state"] == "stopped"
    assert {r["state"] for r in stopped["roles"]} == {"exited"}
    assert "`clickpath up` is not running (it stopped at" in err

    # The demo's journeys are multi-touch: paths cross affiliates, so first and last touch differ.
    client = connect(Settings(data_dir=Path(up_env["CLICKPATH_DATA_DIR"])))
    try:
        first, last, crossing = client.query(
            "SELECT groupArray(affiliate_ids[1]), groupArray(affiliate_ids[-1]), "
            "countIf(length(arrayDistinct(affiliate_ids)) > 1) FROM clickpath.touchpoint_paths"
        ).result_rows[0]
    finally:
        client.close()
    assert crossing > 0 and Counter(first) != Counter(last), (Counter(first), Counter(last))


def test_status_after_up_was_killed_shows_its_roles_gone(up_env) -> None:
    up = subprocess.Popen([sys.executable, "-m", "clickpath.run.cli", "up"], env=up_env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def every_role_running():
            code, status, _ = status_json(up_env)
            running = code == 0 and all(r["state"] == "running" for r in status["roles"])
            return status if running and status["roles"] else None

        status = wait_until(every_role_running, 60, "`clickpath status` to show every role running")
        assert {r["name"] for r in status["roles"]} == DEMO_ROLES - {"demo-receiver", "demo-traffic"}
    finally:
        up.kill()  # SIGKILL: `up` never marks its state file stopped
        up.wait(10)

    def every_role_gone():
        code, status, err = status_json(up_env)
        return (code, status, err) if {r["state"] for r in status["roles"]} == {"gone"} else None

    code, status, err = wait_until(every_role_gone, 30, "every role of the killed `up` to be gone")
    assert code == 1 and status["up"] is False and status["state"] == "gone"
    assert f"its process {up.pid} is gone without stopping" in err
    wait_until(lambda: processes_with(up_env["CLICKPATH_DATA_DIR"]) == [], 30,
               "no process of the killed `up` left")


def test_status_with_nothing_running_says_so(up_env) -> None:
    result = clickpath("status", env=up_env)
    assert result.returncode == 1 and result.stdout == ""
    assert "`clickpath up` is not running (no state file at" in result.stderr


def test_second_up_on_a_busy_port_fails_clearly(up_env) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(up_env["CLICKPATH_HTTP_PORT"])))
        busy.listen()
        result = clickpath("up", env=up_env)
    assert result.returncode == 2
    assert "is already in use" in result.stderr and "CLICKPATH_HTTP_PORT" in result.stderr


def test_report_without_a_running_pipeline_says_so(up_env) -> None:
    result = clickpath("report", env=up_env)
    assert result.returncode == 1
    assert "is `clickpath up` running?" in result.stderr
