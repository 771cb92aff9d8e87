"""Start real pipeline roles as processes for integration tests, and wait for conditions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from confluent_kafka import Consumer

from clickpath.kafka import consumer_config
from clickpath.serde import Codec
from clickpath.settings import Settings
from clickpath.topics import Topic, topic_name

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout_s: float, what: str, every_s: float = 0.2) -> T:
    """Poll `check` until it returns something truthy; fail with `what` and the last value."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last saw {last!r}")


class RoleProcess:
    """`python -m clickpath.cli ARGS` with the test's settings in its environment."""

    def __init__(self, settings: Settings, *args: str, log_dir: Path) -> None:
        self.settings = settings
        self.args = args
        self.log_path = log_dir / f"{'-'.join(args)}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RoleProcess:
        env = {**os.environ, **self.settings.to_env()}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "clickpath.cli", *self.args],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to commit or flush."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

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


def read_topic(settings: Settings, codec: Codec, topic: Topic, expect: int, timeout_s: float = 30):
    """Read `expect` records from the start of a topic (fails if they do not come)."""
    consumer = Consumer(consumer_config(settings, f"test-reader-{time.time_ns()}"))
    consumer.subscribe([topic_name(settings, topic)])
    got = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(got) < expect and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                got.append((msg, codec.decode(msg.value())))
    finally:
        consumer.close()
    assert len(got) >= expect, f"expected {expect} records on {topic.value}, got {len(got)}"
    return got
