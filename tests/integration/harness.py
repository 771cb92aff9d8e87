"""Helpers for integration tests: role processes (clickpath.devtools.procs) and reading topics."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from clickpath.contracts.serde import Codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.devtools.procs import RoleProcess, wait_until
from clickpath.infra.batching import events_in
from clickpath.infra.broker import free_port
from clickpath.infra.kafka import consumer_config
from clickpath.settings import Settings

__all__ = ["RoleProcess", "holds_for", "read_records", "read_topic", "wait_until"]

SETTLE_S = 3.0  # longer than a retry's first backoff and a few agent batches


def holds_for(check: Callable[[], object], what: str, settle_s: float = SETTLE_S) -> None:
    """Fail unless `check` stays true for a settle window.

    An absence ("no second postback", "the funnel did not change") cannot be seen at one instant:
    whatever would break it may still be on its way. So it is watched for `settle_s`, and the
    test fails the moment it breaks.
    """
    deadline = time.monotonic() + settle_s
    while True:
        assert check(), f"{what}: broken within the {settle_s:g} s settle window"
        if time.monotonic() >= deadline:
            return
        time.sleep(0.1)


def read_topic(settings: Settings, codec: Codec, topic: Topic, expect: int, timeout_s: float = 30,
               require: bool = True):
    """Read `expect` records from the start of a topic (fails if they do not come, if `require`).

    A batch record counts as its events, each paired with the message that carried it."""
    consumer = Consumer(consumer_config(settings, f"test-reader-{time.time_ns()}"))
    consumer.subscribe([topic_name(settings, topic)])
    got = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(got) < expect and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                got += [(msg, record) for record in events_in(codec, msg.value())]  # a batch: each
    finally:
        consumer.close()
    assert len(got) >= expect or not require, f"expected {expect} records on {topic.value}, got {len(got)}"
    return got


def read_records(settings, topics: tuple[Topic, ...] = (Topic.CLICKS, Topic.EVENTS), timeout_s: float = 30):
    """Every record on `topics` as (topic, partition, key, value), read to the end."""
    consumer = Consumer(consumer_config(settings, f"test-records-{time.time_ns()}",
                                        **{"enable.partition.eof": True}))
    names = {topic_name(settings, t): t for t in topics}
    assignment = [TopicPartition(n, p, 0) for n in names for p in range(settings.partitions)]
    consumer.assign(assignment)
    waiting = {(tp.topic, tp.partition) for tp in assignment}
    got = []
    deadline = time.monotonic() + timeout_s
    try:
        while waiting:
            assert time.monotonic() < deadline, f"not read to the end: {waiting}"
            for msg in consumer.consume(1000, timeout=0.5):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        waiting.discard((msg.topic(), msg.partition()))
                    continue
                got.append((names[msg.topic()], msg.partition(), msg.key(), msg.value()))
    finally:
        consumer.close()
    return got


class ServedApp:
    """An ASGI app served by uvicorn on a free loopback port in a thread (lifespan included)."""

    def __init__(self, app, host: str = "127.0.0.1", config=None) -> None:
        """`config`: a uvicorn.Config of its own (the service's `server_config`), served as is."""
        import threading

        import uvicorn

        from clickpath.infra.broker import free_port

        if config is None:
            self.port = free_port()
            # proxy_headers off, as the service's server_config: uvicorn's own would make the
            # X-Forwarded-For a test sends the peer, before clickpath's trusted-proxy check.
            config = uvicorn.Config(app, host=host, port=self.port, log_config=None,
                                    access_log=False, lifespan="on", proxy_headers=False)
        else:
            host, self.port = config.host, config.port
        self.url = f"http://{host}:{self.port}"
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="test-service", daemon=True)

    def __enter__(self) -> ServedApp:
        self._thread.start()
        wait_until(lambda: self._server.started, 20, "the test service to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


def processes_with(marker: str) -> list[int]:
    """Pids whose environment mentions `marker` (a test's data dir): what a run left behind."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def up_environment(tmp_path: Path, pseudonym_key: str,
                   master_key: str = "up-test-master-key-0123456789abcdefghij") -> dict[str, str]:
    """The environment for a `clickpath up` of a test's own: none of the caller's CLICKPATH_
    settings, a free port, a data dir under `tmp_path`, 2 partitions, keys of its own (the
    audit key: the pseudonym key's, reversed, as long)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKPATH_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(CLICKPATH_HTTP_PORT=str(free_port()), CLICKPATH_DATA_DIR=str(tmp_path / "cp"),
               CLICKPATH_PARTITIONS="2", CLICKPATH_PSEUDONYM_KEY=pseudonym_key,
               CLICKPATH_MASTER_KEY=master_key, CLICKPATH_AUDIT_KEY=pseudonym_key[::-1])
    return env


def unsealed(settings: Any, field: str, value: Any) -> Any:
    """A personal field as the door sealed it, opened with the data directory's per-person key
    store (docs/privacy.md#erasure); any other value as it is."""
    from clickpath.contracts.models.base import is_sealed
    from clickpath.infra.person_keys import PersonKeys
    from clickpath.infra.sealed_events import revealer

    if not is_sealed(value):
        return value
    with PersonKeys.from_settings(settings) as keys:
        return revealer(keys)(field, value)
