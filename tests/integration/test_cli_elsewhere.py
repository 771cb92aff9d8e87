"""The client commands against a running `clickpath up --demo` from another directory, as a
newcomer's second terminal runs them: no ./.clickpath there, no address copied by hand. And
what `up` prints: "up" only once /healthz answers, commands that run as printed, sentences."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx

from clickpath.infra.broker import free_port
from clickpath.run.instances import register, unregister
from clickpath.run.state import state_path
from tests.integration.harness import processes_with, wait_until

VENV_BIN = str(Path(sys.executable).parent)


class Console:
    """`clickpath up`'s output, line by line as it comes; the moment the banner appears, its
    /healthz is asked (the banner's promise is that it answers by then)."""

    def __init__(self, proc: subprocess.Popen[str], healthz: str) -> None:
        self.proc, self.healthz = proc, healthz
        self.lines: list[str] = []
        self.health_at_banner: int | str | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.rstrip("\n") == "clickpath is up.":
                try:
                    self.health_at_banner = httpx.get(self.healthz, timeout=2).status_code
                except httpx.HTTPError as e:
                    self.health_at_banner = repr(e)
            self.lines.append(line.rstrip("\n"))

    def banner_line(self, label: str) -> str:
        return next(line for line in self.lines if line.startswith(f"  {label}:"))


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clickpath.run.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_client_commands_from_another_directory_use_the_running_up(tmp_path) -> None:
    checkout, elsewhere, instances = tmp_path / "checkout", tmp_path / "elsewhere", tmp_path / "inst"
    checkout.mkdir()
    elsewhere.mkdir()
    data_dir = checkout / ".clickpath"  # `make run` in a checkout: the default data dir
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLICKPATH_")}
    base.pop("PROMETHEUS_MULTIPROC_DIR", None)
    base["PATH"] = os.pathsep.join(p for p in base.get("PATH", "").split(os.pathsep) if p != VENV_BIN)
    base.update(CLICKPATH_INSTANCES_DIR=str(instances), CLICKPATH_PARTITIONS="2")
    up_env = {**base, "CLICKPATH_HTTP_PORT": str(port)}
    # The second terminal knows nothing: no data dir, no port, no broker.
    env = base

    up = subprocess.Popen([sys.executable, "-m", "clickpath.run.cli", "up", "--demo"], env=up_env,
                          cwd=checkout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    console = Console(up, f"http://127.0.0.1:{port}/healthz")
    try:
        wait_until(lambda: "Ctrl-C stops everything." in console.lines, 180, "the banner")
        assert console.health_at_banner == 200, console.lines
        using = f"clickpath: using the `clickpath up` running on {data_dir} (pid {up.pid},"

        status = run("status", "--format", "json", env=env, cwd=elsewhere)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["data_dir"] == str(data_dir)
        assert status.stderr.startswith(using)

        links = run("links", "--format", "json", env=env, cwd=elsewhere)
        assert links.returncode == 0, links.stderr
        rows = json.loads(links.stdout)
        assert len(rows) == 5 and {r["brand_id"] for r in rows} == {"luckyspin", "goldbet"}
        assert all(r["url"].startswith(f"http://127.0.0.1:{port}/c/") for r in rows)

        report = run("report", "--format", "json", env=env, cwd=elsewhere)
        assert report.returncode == 0 and isinstance(json.loads(report.stdout), list), report.stderr
        assert report.stderr.startswith(using)
        sql = run("sql", "SELECT count() AS n FROM funnel_daily", "--format", "json", env=env,
                  cwd=elsewhere)
        assert sql.returncode == 0, sql.stderr
        typo = run("report", "--brand", "lukyspin", env=env, cwd=elsewhere)
        assert typo.returncode == 2 and "(did you mean luckyspin?)" in typo.stderr, typo.stderr
        keys = run("keys", "list", "--format", "json", env=env, cwd=elsewhere)
        assert keys.returncode == 0 and any(k["label"] == "local-cli" for k in json.loads(keys.stdout))

        # `import` takes the running up's broker: nothing copied from the banner.
        history = elsewhere / "history.jsonl"
        history.write_text(json.dumps({
            "event_type": "click", "event_id": "clk-ev-elsewhere", "brand_id": "luckyspin",
            "occurred_at": datetime.now(UTC).isoformat(), "click_id": "clk-elsewhere",
            "affiliate_id": "aff-alpha", "campaign_id": "spring-slots",
        }) + "\n")
        imported = run("import", str(history), "--json", env=env, cwd=elsewhere)
        assert imported.returncode == 0, imported.stderr
        assert json.loads(imported.stdout.splitlines()[-1])["imported"] == 1
        assert not (elsewhere / ".clickpath").exists()  # nothing was made where they ran

        # The banner's commands run as printed, in the terminal `up` was started from.
        printed = console.banner_line("Status").split(":", 1)[1].split("(")[0]
        as_printed = subprocess.run(shlex.split(printed), env=env, cwd=checkout,
                                    capture_output=True, text=True, timeout=60)
        assert as_printed.returncode == 0, (printed, as_printed.stderr)
        assert printed.split()[0] == str(Path(VENV_BIN) / "clickpath")  # not on this PATH

        # Two running and none here: the command names them and asks which.
        twin = tmp_path / "twin"
        recorded = json.loads(state_path(data_dir).read_text())
        state_path(twin).parent.mkdir()
        state_path(twin).write_text(json.dumps({**recorded, "data_dir": str(twin)}))
        register(instances, twin, up.pid)
        try:
            both = run("status", env=env, cwd=elsewhere)
            assert both.returncode == 2, both.stderr
            assert "2 `clickpath up` instances are running" in both.stderr
            assert str(data_dir) in both.stderr and str(twin) in both.stderr
            assert "Set CLICKPATH_DATA_DIR" in both.stderr
            named = run("status", env={**env, "CLICKPATH_DATA_DIR": str(data_dir)}, cwd=elsewhere)
            assert named.returncode == 0, named.stderr
        finally:
            unregister(instances, twin, up.pid)
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(90)
        console.thread.join(10)
    assert up.returncode == 0, "\n".join(console.lines)

    # Role lifecycle lines are sentences; the status lines and banner are text too.
    assert not [line for line in console.lines if line.lstrip().startswith("{")], console.lines
    assert any(" clickpath: worker-0 started (pid " in line for line in console.lines), console.lines
    assert list(instances.glob("*.json")) == []  # unregistered on the way out
    after = run("report", env=env, cwd=elsewhere)
    assert after.returncode == 1 and "is `clickpath up` running?" in after.stderr, after.stderr
    assert not (elsewhere / ".clickpath").exists()
    wait_until(lambda: processes_with(str(instances)) == [], 30, "no process of the run left")
