"""Every command README.md and docs/*.md show runs as printed (issue 21 item 1): one
`clickpath up --demo` for the module, in a temporary checkout (a directory whose entries link
to this repository's, with its own `.clickpath/`), and each example run against it there.

Which blocks are examples, how they run and how one is skipped: tests/docs_examples.py and
docs/development.md#examples-in-the-docs. A skipped example is reported with its reason; one
that fails shows its script, exit code and output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clickpath.infra.broker import free_port
from tests.docs_examples import ROOT, Example, all_examples, localize
from tests.integration.harness import processes_with, wait_until

VENV = Path(sys.executable).parent.parent  # not resolved: .venv/bin/python is a symlink
EXAMPLE_TIMEOUT_S = 120
PREAMBLE = """set -eo pipefail
# A 4xx or 5xx answer fails the example (curl alone exits 0 on them), with the body shown.
curl() { command curl --fail-with-body --show-error --max-time 60 "$@"; }
set -x
"""


@dataclass
class Demo:
    checkout: Path
    env: dict[str, str]
    service: str
    broker: str

    def run(self, *args: str, timeout: float = EXAMPLE_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Run in the checkout; stdout and stderr in one stream, in the order they came. In a
        process group of its own, ended whole when it overruns (a script's children too)."""
        proc = subprocess.Popen(list(args), cwd=self.checkout, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            output += f"\n[ended: still running after {timeout:g} s]"
        return subprocess.CompletedProcess(list(args), proc.returncode, output)

    def json(self, *args: str) -> object | None:
        """A command's JSON answer (stdout alone), or None when it failed."""
        result = subprocess.run(["clickpath", *args, "--format", "json"], cwd=self.checkout,
                                env=self.env, capture_output=True, text=True, timeout=60)
        return json.loads(result.stdout) if result.returncode == 0 else None


def _checkout(path: Path) -> Path:
    """A directory that looks like this checkout after `make install` to the examples (they use
    `.venv/bin/clickpath`, `deploy/mappings`, write `history.jsonl`), without writing into it."""
    path.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in (".git", ".venv", ".clickpath", "build") and not entry.name.startswith("."):
            (path / entry.name).symlink_to(entry)
    (path / ".venv").symlink_to(VENV)
    return path




@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    checkout = _checkout(tmp_path_factory.mktemp("docs") / "clickpath")
    data_dir = checkout / ".clickpath"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKPATH_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(CLICKPATH_HTTP_PORT=str(port), CLICKPATH_DATA_DIR=str(data_dir),
               PATH=f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    up = subprocess.Popen([sys.executable, "-m", "clickpath.run.cli", "up", "--demo", "--rate", "25"],
                          cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    try:
        demo = Demo(checkout, env, f"127.0.0.1:{port}", "")

        def has_data() -> bool:
            """Funnel, attribution and cohorts all have rows: every example has something to read."""
            funnel = demo.json("report")
            if not isinstance(funnel, list) or sum(r["ftds"] > 0 for r in funnel) < 3:
                return False
            return all(demo.json("report", kind) for kind in ("attribution", "cohorts"))

        wait_until(has_data, 180, "the demo's funnel, attribution and cohorts", 2)
        status = demo.json("status")
        assert isinstance(status, dict), "`clickpath status` failed while the demo runs"
        demo.broker = status["broker"]
        yield demo
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=90)
    assert up.returncode == 0, output[-3000:]
    assert processes_with(str(data_dir)) == [], "processes left behind by `clickpath up --demo`"


EXAMPLES = all_examples()


def _failure(example: Example, script: str, result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout[-6000:]
    return (f"{example.where}: the example exited {result.returncode}, not {example.exit_code}\n"
            f"--- script ---\n{script}\n"
            f"--- output (bash -x: each command after +) ---\n{output}")


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_the_example_runs_as_printed(example: Example, demo: Demo) -> None:
    if example.skip is not None:
        pytest.skip(f"{example.where}: {example.skip}")
    if example.kind == "sql":
        for statement in example.statements():
            result = demo.run("clickpath", "sql", statement)
            assert result.returncode == 0, _failure(example, f"clickpath sql {statement!r}", result)
        return
    script = localize(example.text, demo.service, demo.broker)
    result = demo.run("bash", "-c", PREAMBLE + script)
    assert result.returncode == example.exit_code, _failure(example, script, result)

