"""README's copy of what `clickpath up` prints is the real banner: same lines, same commands."""

from __future__ import annotations

import re
from pathlib import Path

from clickpath.contracts.topics import SPECS
from clickpath.run.up import banner
from clickpath.settings import Settings

README = Path(__file__).parents[3] / "README.md"


def readme_banner() -> list[str]:
    text = README.read_text()
    start = text.index("\nclickpath is up.\n") + 1
    end = text.index("Ctrl-C stops everything.\n", start) + len("Ctrl-C stops everything.")
    return text[start:end].splitlines()


def test_the_readme_banner_is_the_one_up_prints(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:36419",
                        broker_compat="tansu", http_port=8000, partitions=4)
    logs = Path("…/.clickpath/logs")
    real = banner(settings, logs, list(SPECS), logs / "demo-receiver.log",
                  cli=".venv/bin/clickpath").splitlines()
    shown = readme_banner()
    assert [line.split(":")[0] for line in shown] == [line.split(":")[0] for line in real]
    clickhouse = re.compile(r"chdb://\S+")  # the checkout's absolute path in the real one
    assert [clickhouse.sub("chdb", x) for x in shown] == [clickhouse.sub("chdb", x) for x in real]
