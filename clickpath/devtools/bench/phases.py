"""What every `clickpath bench` phase shares: its configuration, fresh topics and directories,
topic tails that count what lands, and the wait until every output is in.

Each phase runs on fresh topics, data and ClickHouse directories, on one broker for all, so a
phase's leftovers never skew the next one's numbers.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Message
from pydantic import SecretStr

from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import SPECS, Topic, topic_name
from clickpath.devtools.bench.results import DEFAULT_RESULTS_FILE
from clickpath.devtools.demo import PostbackReceiver
from clickpath.devtools.loadgen import LoadGenerator, Population
from clickpath.devtools.procs import RoleProcess, WaitTimeout, peak_rss_mib, wait_until
from clickpath.devtools.truth import GroundTruth
from clickpath.devtools.verify import VERIFY_POSTBACK_PATH, parse_postback
from clickpath.domain.catalogue import AffiliateConfig
from clickpath.infra.batching import EventCounter
from clickpath.infra.broker import free_port
from clickpath.infra.kafka import consumer_config, create_topics
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import clickhouse_stats
from clickpath.settings import Settings


@dataclass(frozen=True)
class BenchConfig:
    events: int = 30_000  # sends preloaded for each throughput run
    worker_counts: tuple[int, ...] = (1, 2)
    baseline_events: int = 30_000
    raw_events: int = 200_000
    latency_rate: float = 1000.0
    latency_seconds: float = 20.0
    # The second live run, at 300 events/s (the `*_300` figures): as long as the first, at
    # most this many seconds.
    latency_300_seconds: float = 15.0
    latency_workers: int = 1
    partitions: int = 4
    seed: int = 11
    results_file: Path | None = DEFAULT_RESULTS_FILE


class TopicTail:
    """Counts (and optionally reads) what lands on a topic, from its start, in a thread.

    `on_first` runs once, on the tail's thread, when the first record is seen: the moment a
    throughput run's clock starts. `count` is of events: a batch record (a batched topic's,
    docs/topics.md) counts the events it carries when `count_events` is given.
    """

    def __init__(
        self, settings: Settings, topic: str,
        on_message: Callable[[Message], None] | None = None,
        on_first: Callable[[], None] | None = None,
        count_events: Callable[[bytes | None], int] | None = None,
    ) -> None:
        self.count = 0
        self._count_events = count_events
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._on_message = on_message
        self._on_first = on_first
        self._stop = threading.Event()
        self._consumer = Consumer(consumer_config(settings, f"bench-tail-{uuid.uuid4().hex[:8]}"))
        self._consumer.subscribe([topic])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(num_messages=2000, timeout=0.2):
                if msg.error():
                    continue
                now = time.monotonic()
                if self.first_at is None:
                    self.first_at = now
                    if self._on_first is not None:
                        self._on_first()
                self.last_at = now
                self.count += 1 if self._count_events is None else self._count_events(msg.value())
                if self._on_message is not None:
                    self._on_message(msg)
        self._consumer.close()

    def rate(self) -> float | None:
        if self.first_at is None or self.last_at is None or self.last_at <= self.first_at:
            return None
        return (self.count - 1) / (self.last_at - self.first_at)

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(10)


class Phase:
    """One run on fresh topics, data and ClickHouse directories."""

    def __init__(self, base: Settings, workdir: Path, name: str, population: Population) -> None:
        self.dir = workdir / name
        self.dir.mkdir(parents=True)
        self.receiver = PostbackReceiver(self.dir / "receiver.jsonl").start()
        template = self.receiver.url + VERIFY_POSTBACK_PATH
        self.settings = base.with_overrides(
            topic_prefix=f"b{uuid.uuid4().hex[:8]}",
            data_dir=self.dir / "data",
            clickhouse_url=f"chdb://{self.dir / 'clickhouse'}",
            reports_url=f"http://127.0.0.1:{free_port()}",
            reports_token=SecretStr(secrets.token_urlsafe(32)),  # as `up` makes one per run
            affiliates={a: AffiliateConfig(name=a, postback_url=template)
                        for a in population.affiliates},
            egress_allow=["127.0.0.1/32"],  # the bench's receiver
        )
        create_topics(self.settings)
        self.roles: list[RoleProcess] = []
        self.tails: list[TopicTail] = []
        self.peaks: dict[str, float] = {}

    def tail(
        self, topic: Topic, on_message: Callable[[Message], None] | None = None,
        on_first: Callable[[], None] | None = None,
    ) -> TopicTail:
        codec = build_codec(self.settings.schemas_dir, self.settings.schema_registry_url)
        counter = EventCounter(codec) if SPECS[topic].batched else None
        tail = TopicTail(self.settings, self.topic(topic), on_message, on_first, counter)
        self.tails.append(tail)
        return tail

    def start(self, *args: str, module: str = "clickpath.run.cli") -> RoleProcess:
        role = RoleProcess(self.settings, *args, log_dir=self.dir, module=module).start()
        self.roles.append(role)
        return role

    def sample_memory(self) -> None:
        for role in self.roles:
            if role.running and (rss := peak_rss_mib(role.pid)) is not None:
                name = " ".join(role.args[:2]) if role.module == "clickpath.run.cli" else "passthrough"
                if name.startswith("worker"):
                    name = f"worker {role.args[-1]}"
                self.peaks[name] = max(self.peaks.get(name, 0.0), rss)

    def cpu_seconds(self, *more_pids: int) -> float:
        """CPU time so far of every role's processes (and `more_pids`'s, e.g. the broker)."""
        pids = [r.pid for r in self.roles if r.running] + list(more_pids)
        return tree_cpu_seconds(pids)

    def close(self) -> None:
        self.sample_memory()
        for tail in self.tails:
            tail.stop()
        for role in self.roles:
            role.stop()
        self.receiver.stop()

    def topic(self, t: Topic) -> str:
        return topic_name(self.settings, t)


def preload(settings: Settings, gen: LoadGenerator, sends: int, batch_records: bool = True) -> None:
    """Send `sends` generated events before any role starts: the backlog a throughput run drains,
    as batch records (the doors' way) or one event per record (`batch_records=False`)."""
    with EventProducer(settings, batch_records=batch_records) as producer:
        for event in gen.events(sends):
            producer.send(event)


def wait_for_outputs(
    settings: Settings,
    truth: GroundTruth,
    receiver: PostbackReceiver,
    timeout_s: float,
    on_tick: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Wait until every event is in ClickHouse and every postback was received; the stats.

    On timeout the error says how far each got.
    """
    progress: dict[str, int] = {}

    def done() -> dict[str, Any] | None:
        on_tick()
        try:
            stats = clickhouse_stats(settings)
        except Exception:
            return None  # the sink is still starting
        progress["written"] = sum(stats["events_by_type"].values())
        progress["postbacks"] = received_required(truth, receiver)
        if progress["written"] >= truth.unique_events and progress["postbacks"] >= len(
            truth.postbacks
        ):
            return stats
        return None

    try:
        return wait_until(done, timeout_s, "every event in ClickHouse and every postback",
                          every_s=1.0)
    except WaitTimeout as e:
        raise WaitTimeout(
            f"{e}: {progress} of {truth.unique_events} events and {len(truth.postbacks)}"
            " postbacks"
        ) from None


def received_required(truth: GroundTruth, receiver: PostbackReceiver) -> int:
    """How many of the postbacks that must arrive have arrived (optional ones not counted)."""
    got = set()
    for r in receiver.requests():
        p = parse_postback(r["path"])
        got.add((p.affiliate_id, p.click_id, p.event))
    return len(got & truth.postbacks)




def stat_cpu_ticks(stat: str) -> int:
    """utime + stime + cutime + cstime from a /proc/PID/stat line, in clock ticks.

    Children a process has waited for count in its cutime/cstime, so a tree's sum over its
    live processes counts every process once.
    """
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return sum(int(f) for f in fields[11:15])  # fields 14-17 of proc(5), counted from 1


def tree_cpu_seconds(
    pids: list[int], proc_root: Path = Path("/proc"), ticks_per_s: int | None = None
) -> float:
    """CPU seconds used so far by these processes and all their live descendants."""
    seen: set[int] = set()
    todo = list(pids)
    ticks = 0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        proc = proc_root / str(pid)
        try:
            ticks += stat_cpu_ticks((proc / "stat").read_text())
            for task in (proc / "task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # it exited meanwhile: its time is in its parent's cutime once waited for
    return ticks / (ticks_per_s or os.sysconf("SC_CLK_TCK"))
