"""Where benchmark results go: one JSON line per run, with the machine and the commit.

The file is an option (`--results`); the default is `bench-results.jsonl` in the current
directory, and `make bench*` keeps the project's history in tests/bench/results.jsonl.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

DEFAULT_RESULTS_FILE = Path("bench-results.jsonl")


def record_result(results_file: Path | None, result: dict[str, Any]) -> None:
    """Append `result` as one JSON line; None records nothing (`--no-record`)."""
    if results_file is None:
        return
    results_file.parent.mkdir(parents=True, exist_ok=True)
    with results_file.open("a") as f:
        f.write(json.dumps(result) + "\n")


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(), "cpus": os.cpu_count(), "cpu": model,
        "python": platform.python_version(),
    }


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
