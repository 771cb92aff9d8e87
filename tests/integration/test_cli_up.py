"""`clickpath up --demo` as a newcomer runs it: report shows funnel rows, Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from clickpath.infra.broker import free_port
from tests.integration.harness import wait_until


def clickpath(*args: str, env: dict[str, str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clickpath.run.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, **kw)


def processes_with(marker: str) -> list[int]:
    """Pids whose environment mentions `marker` (our data dir): leftovers of the run."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.fixture
def up_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKPATH_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(CLICKPATH_HTTP_PORT=str(free_port()), CLICKPATH_DATA_DIR=str(tmp_path / "cp"),
               CLICKPATH_PARTITIONS="2")
    return env


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
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert "clickpath is up." in output and "clickpath: stopped." in output
    assert processes_with(up_env["CLICKPATH_DATA_DIR"]) == []


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
