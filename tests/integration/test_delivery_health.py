"""Failing deliveries are visible (issue 21, item 8): what the delivery engine publishes per
endpoint reaches `up`'s status line and `clickpath postbacks list` through the multiprocess
metrics `up` gives every role. A child process stands for the running `up` and its delivery
engine: it records metrics into the data dir's metrics directory, as the engine does under
`up`, and stays alive (an `up` that is not running shows no counts) until the test ends it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from clickpath.domain.catalogue import AffiliateConfig
from clickpath.domain.endpoints import Endpoint
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.run.cli import main
from clickpath.run.state import RoleState, UpState, state_path, write_state

ENGINE = """
import sys
from clickpath.infra.metrics import ENDPOINT_CIRCUIT, ENDPOINT_DELIVERIES, ENDPOINT_RETRYING
ENDPOINT_DELIVERIES.labels("aff-a-main", "delivered").inc(5)
ENDPOINT_DELIVERIES.labels("aff-b-main", "delivered").inc(1)
ENDPOINT_DELIVERIES.labels("aff-b-main", "dead_letter").inc(2)
ENDPOINT_DELIVERIES.labels("aff-b-main", "refused").inc(1)
ENDPOINT_RETRYING.labels("aff-b-main").set(2)
ENDPOINT_CIRCUIT.labels("aff-b-main").set(2)
ENDPOINT_RETRYING.labels("aff-a-main").set(0)
ENDPOINT_CIRCUIT.labels("aff-a-main").set(0)
print("ready", flush=True)
sys.stdin.read()  # alive until the test closes stdin
"""


@pytest.fixture
def running_up(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A data dir with two endpoints, the metrics a delivery engine wrote, and a live `up`."""
    data_dir = tmp_path / "cp"
    metrics = data_dir / "metrics"
    metrics.mkdir(parents=True)
    for var in ("CLICKPATH_CONFIG", "CLICKPATH_ENDPOINTS", "CLICKPATH_EGRESS_ALLOW"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CLICKPATH_AFFILIATES", json.dumps({
        a: AffiliateConfig(name=a).model_dump() for a in ("aff-a", "aff-b")}))
    store = EndpointStore(data_dir / "endpoints.json")
    for aff in ("aff-a", "aff-b"):
        store.put(Endpoint(endpoint_id=f"{aff}-main", affiliate_id=aff, events=["ftd"],
                           url=f"https://{aff}.partner.invalid/pb?c={{click_id}}"))
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    engine = subprocess.Popen([sys.executable, "-c", ENGINE, "clickpath-test-up"], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert engine.stdout is not None and engine.stdout.readline().strip() == "ready"
        now = datetime.now(UTC).isoformat()
        write_state(state_path(data_dir), UpState(
            pid=engine.pid, state="running", broker=None, service_url="http://127.0.0.1:1",
            data_dir=str(data_dir), started_at=now, updated_at=now,
            roles=(RoleState("sink-postbacks", engine.pid, "running"),),
        ))
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))
        yield data_dir
    finally:
        assert engine.stdin is not None
        engine.stdin.close()
        engine.wait(10)


def test_the_status_line_names_the_failing_endpoint_and_why(running_up) -> None:
    from clickpath.run.status import status_line

    line = status_line()
    assert " · failing: aff-b-main (3 failed, 2 retrying, circuit open)" in line
    assert "aff-a-main" not in line


def test_postbacks_list_shows_each_endpoints_deliveries_aligned(running_up, capsys) -> None:
    main(["postbacks", "list"])
    out = capsys.readouterr().out.splitlines()
    header, rows = out[0], [line for line in out[1:] if not line.startswith("    ")]
    assert header.split() == ["ID", "OWNER", "METHOD", "EVENTS", "STATE", "DELIVERED", "FAILED",
                              "RETRYING", "CIRCUIT"]
    by_id = {row.split()[0]: row.split() for row in rows}
    assert by_id["aff-a-main"][-4:] == ["5", "0", "0", "closed"]
    assert by_id["aff-b-main"][-4:] == ["1", "3", "2", "open"]
    # Aligned: every column starts where its header does.
    for name in ("OWNER", "STATE", "CIRCUIT"):
        at = header.index(name)
        assert all(row[at - 2:at] == "  " and row[at] != " " for row in rows), name
    main(["postbacks", "list", "--format", "json"])
    health = {r["endpoint_id"]: r["health"] for r in json.loads(capsys.readouterr().out)}
    assert health["aff-b-main"] == {"delivered": 1, "failed": 3, "retrying": 2, "circuit": "open"}


def test_without_a_running_up_the_list_says_so(running_up, capsys) -> None:
    state_path(running_up).unlink()
    main(["postbacks", "list"])
    captured = capsys.readouterr()
    assert "no `clickpath up` running on" in captured.err
    assert all(line.split()[-4:] == ["-"] * 4 for line in captured.out.splitlines()[1:]
               if not line.startswith("    "))
