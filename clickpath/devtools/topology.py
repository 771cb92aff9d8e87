"""The pipeline's stateful stages wired in memory, with a clock the test moves.

A test sends records to topics as a door would (`send`, `send_all`, `send_raw`), moves time
(`advance`, which delivers ticks to every stage that declares a tick input) and reads what the
stages emitted (`emitted`) and what they store (`state`, `ledger`, `stored`). Between them run
the real stage declarations (streams/players.py, streams/clicks.py, or a test's own), the real
runtime (`StageRuntime.process_batch`, hence `apply_run` and the decisions) and the real Avro
codec, over in-memory tables (streams/memory.py): end-to-end tests of every stage without a
broker, so that the broker suite only has to prove the wiring.

The wiring is the topic registry's: a record on a topic goes to every stage whose declaration
reads it; a stage may read only topics that name it as a consumer, and write only topics that
name it as a producer and carry the record's class, under the record's key there. Anything else
raises `TopologyError` at once, so a test cannot miss it.

A test tool, shipped so that a stage written outside this repository is tested the same way. It
must never start a broker, a Faust app or a thread, nor read the wall clock.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from clickpath.contracts.batches import unpack
from clickpath.contracts.models import EventBatch, IngressEvent, Record
from clickpath.contracts.serde import Codec, DecodeError, build_codec
from clickpath.contracts.topics import SPECS, Topic, TopicSpec, TopologyError, check_emit
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.commissions import CommissionPolicy
from clickpath.domain.earnings import EarningsPolicy
from clickpath.domain.fx import FxTable
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.ledger import ledger_key
from clickpath.domain.plans import PlanBook
from clickpath.domain.players import PlayerPolicy
from clickpath.infra.producer import route
from clickpath.streams.clicks import click_stage
from clickpath.streams.commissions import commissions_stage
from clickpath.streams.earnings import earnings_stage
from clickpath.streams.identifiers import identifier_stage
from clickpath.streams.identity import identity_stage
from clickpath.streams.memory import MemoryEvent, MemoryMessage, MemoryTable
from clickpath.streams.players import player_stage
from clickpath.streams.runtime import Stage, StageRuntime

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
"""Where a topology's clock starts unless told otherwise."""

PREFIX = "harness"
"""The topics' prefix. Stored positions name topics by full name, so it must not change: the
golden stored-state fixtures carry it."""

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"harness-pseudonym-key-of-32-bytes")
WINDOW = AttributionWindow(lookback=timedelta(days=30), clock_skew=timedelta(seconds=60))


@dataclass(frozen=True)
class _Prefix:
    topic_prefix: str = PREFIX


def topic_names(registry: Mapping[Any, TopicSpec] = SPECS) -> dict[Any, str]:
    """Each topic's full name in a topology (for stage declarations that name a topic)."""
    return {topic: spec.name(_Prefix()) for topic, spec in registry.items()}


def pipeline_stages(policy: PlayerPolicy = POLICY, window: AttributionWindow = WINDOW,
                    earnings: EarningsPolicy | None = None,
                    commissions: CommissionPolicy | None = None,
                    identity: IdentityPolicy | None = None) -> list[Stage[Any]]:
    """clickpath's stateful stages, declared as `clickpath worker` runs them (the commission
    stages with no plan unless given policies: they then write no ledger entry; the identity
    stages with the default rules: one operator for every brand)."""
    rules = identity or IdentityPolicy()
    earnings = earnings or EarningsPolicy(book=NO_PLANS, time_zone=ZoneInfo("UTC"))
    commissions = commissions or CommissionPolicy(plans=NO_PLANS, fx=FxTable("EUR", []),
                                                  pseudonym_key=POLICY.pseudonym_key)
    return [
        player_stage(policy, topic_names()[Topic.ATTRIBUTIONS]),
        click_stage(window),
        earnings_stage(lambda: earnings),
        commissions_stage(lambda: commissions),
        identity_stage(lambda: rules),
        identifier_stage(lambda: rules),
    ]


NO_PLANS = PlanBook([], [])


class Clock:
    """Time in a topology: it moves only when the test moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a topology's clock needs an aware datetime (UTC)")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("time does not go back")
        self._now += delta


@dataclass
class _Wired:
    stage: Stage[Any]
    runtime: StageRuntime[Any]
    table: MemoryTable
    reads: frozenset[str]  # full names of the topics it reads, ticks included
    position: int = 0  # how much of the topology's log it has read


@dataclass
class _Log:
    """Every record appended to any topic, in order, with per-topic offsets."""

    messages: list[MemoryMessage] = field(default_factory=list)
    ends: dict[str, int] = field(default_factory=dict)  # topic name -> next offset

    def append(self, topic: str, key: bytes | None, value: bytes | None, at: datetime) -> None:
        offset = self.ends.get(topic, 0)
        self.ends[topic] = offset + 1
        self.messages.append(MemoryMessage(topic, 0, offset, key, value, at.timestamp()))


class _StageOutput:
    """The producer a stage's runtime sends to: the topology checks and appends each record."""

    def __init__(self, topology: Topology, stage: str) -> None:
        self._topology, self._stage = topology, stage

    def send_raw(self, topic: str, key: bytes | None, value: bytes, partition: int = -1) -> None:
        self._topology._emit(self._stage, topic, key, value)  # one partition per topic here


class Topology:
    """Stages wired by their topics, run in memory (see the module docstring)."""

    def __init__(
        self,
        stages: Iterable[Stage[Any]] | None = None,
        *,
        start: datetime = START,
        registry: Mapping[Any, TopicSpec] = SPECS,
        codec: Codec | None = None,
        batch_max: int = 500,
    ) -> None:
        """`stages`: default `pipeline_stages()`. `registry`: the topic registry (a test
        extends `SPECS` with its own stage's entries); `codec`: one that knows every record
        the stages emit (default: the shipped schemas); `batch_max`: the largest micro-batch a
        stage takes, as `CLICKPATH_AGENT_BATCH_MAX` in a worker."""
        self.clock = Clock(start)
        self._registry = registry
        self._codec = codec or build_codec(None, None)
        self._names = topic_names(registry)
        self._topics = {name: topic for topic, name in self._names.items()}
        self._batch_max = batch_max
        self._log = _Log()
        self._stages: dict[str, _Wired] = {}
        for stage in pipeline_stages() if stages is None else stages:
            self._wire(stage)

    def _wire(self, stage: Stage[Any]) -> None:
        if stage.name in self._stages:
            raise TopologyError(f"two stages named {stage.name}")
        for topic in (*stage.inputs, *([stage.ticks] if stage.ticks is not None else [])):
            if stage.name not in self._spec(topic).consumers:
                raise TopologyError(
                    f"stage {stage.name} reads {topic.value}, whose consumers do not name it"
                )
        table = MemoryTable()
        batched = [topic for topic, spec in self._registry.items() if spec.batched]
        runtime = StageRuntime(stage, self._codec, self._names, table, table,
                               _StageOutput(self, stage.name), clock=self.clock.now,
                               partitions=1, batched=batched)
        self._stages[stage.name] = _Wired(stage, runtime, table, frozenset(runtime.input_topics))

    def _spec(self, topic: Any) -> TopicSpec:
        try:
            return self._registry[topic]
        except KeyError:
            raise TopologyError(f"{topic} is not in the topology's registry") from None

    # --- what a test does ------------------------------------------------------------------

    def send(self, topic: Any, record: Record, key: str | None = None) -> None:
        """Produce `record` to `topic` as a door does (keyed as the registry says; an ingress
        event stamped `received_at` now), then run the stages until nothing is left to read.
        `key`: another key, to see what a stage does with a record under the wrong one."""
        self._produce(topic, record, key)
        self.settle()

    def send_all(self, events: Iterable[IngressEvent]) -> None:
        """Produce every event to its topic as the doors route it (infra/producer.py's
        `route`), then run: the stages take them in micro-batches, as a worker takes what a
        door produced in one go."""
        for event in events:
            topic, _ = route(event)
            self._produce(topic, event, None)
        self.settle()

    def send_raw(self, topic: Any, key: bytes | None, value: bytes) -> None:
        """Produce bytes as they are (an undecodable record, a foreign producer's), then run."""
        self._log.append(self._names[topic], key, value, self.clock.now())
        self.settle()

    def advance(self, delta: timedelta, every: timedelta | None = None) -> None:
        """Move the clock by `delta`, in steps of `every` (a ticker's period) when given. At
        each step every stage with a tick input gets one tick per key it stores, at the new
        time, and the stages run until nothing is left to read."""
        step = delta if every is None else every
        if every is not None and every <= timedelta(0):
            raise ValueError("a tick period must be positive")
        left = delta
        while True:
            moved = min(step, left)
            self.clock.advance(moved)
            left -= moved
            self._tick()
            self.settle()
            if left <= timedelta(0):
                return

    def _tick(self) -> None:
        now = self.clock.now()
        for wired in self._stages.values():
            if wired.stage.ticks is not None:
                name = self._names[wired.stage.ticks]
                for key in sorted(_state_keys(wired.table)):
                    self._log.append(name, key.encode(), None, now)

    def settle(self, max_rounds: int = 1000) -> None:
        """Run every stage over what it has not read yet, round after round, until none has
        anything left (what a stage emits is read in the next round)."""
        for _ in range(max_rounds):
            busy = False
            for wired in self._stages.values():
                batch = self._next_batch(wired)
                if batch:
                    busy = True
                    wired.runtime.process_batch(batch)
                    _commit(wired.table)
            if not busy:
                return
        raise TopologyError(f"the stages still had records to read after {max_rounds} rounds")

    def _next_batch(self, wired: _Wired) -> list[MemoryEvent]:
        batch: list[MemoryEvent] = []
        messages = self._log.messages
        while wired.position < len(messages) and len(batch) < self._batch_max:
            message = messages[wired.position]
            wired.position += 1
            if message.topic in wired.reads:
                batch.append(MemoryEvent(message))
        return batch

    def _produce(self, topic: Any, record: Record, key: str | None) -> None:
        if isinstance(record, IngressEvent) and record.received_at is None:
            record = record.model_copy(update={"received_at": self.clock.now()})
        raw_key = key if key is not None else self._spec(topic).key.of(record)
        self._log.append(self._names[topic], raw_key.encode(), self._codec.encode(record),
                         self.clock.now())

    def _emit(self, stage: str, topic_name: str, key: bytes | None, value: bytes) -> None:
        topic = self._topics.get(topic_name)
        if topic is None:
            raise TopologyError(f"stage {stage} wrote to {topic_name}, which is no topic")
        record = self._codec.decode(value)
        spec = self._spec(topic)
        if isinstance(record, EventBatch):
            # A batch record (a batched topic): appended whole, as a reader finds it; each item
            # is checked as a single record would be.
            self._check_emit(stage, topic, spec, record)
            for item in unpack(self._codec, key, value):
                if item.record is None:
                    raise TopologyError(f"stage {stage} wrote an undecodable batch item: {item.error}")
                self._check_emit(stage, topic, spec, item.record, item.key)
        else:
            self._check_emit(stage, topic, spec, record, key)
        self._log.append(topic_name, key, value, self.clock.now())

    def _check_emit(self, stage: str, topic: Any, spec: TopicSpec, record: Record,
                    key: bytes | None = None) -> None:
        """Refuse what `stage` may not write to `topic`, or under another key than the
        record's there (`key` None: a batch record, whose own key means nothing)."""
        if spec is SPECS.get(topic):
            check_emit(stage, topic, record)  # type: ignore[arg-type]  # a Stage is its name
        elif stage not in spec.producers or not spec.carries(record):
            raise TopologyError(
                f"stage {stage} may not write {type(record).__name__} to {topic.value}"
            )
        if isinstance(record, EventBatch):
            return
        expected = spec.key.of(record)
        if key != expected.encode():
            raise TopologyError(
                f"stage {stage} wrote {type(record).__name__} to {topic.value} under key {key!r},"
                f" but its key there is {expected!r}"
            )

    # --- what a test reads -----------------------------------------------------------------

    def emitted(self, topic: Any) -> list[Record]:
        """Every record on `topic`, in order (what a test sent to it too)."""
        return [record for _, record in self.keyed(topic)]

    def keyed(self, topic: Any) -> list[tuple[str, Record]]:
        """Every (key, record) on `topic`, in order; a batch record's items each with its own
        key (a bad item raises: a test sent it, or a stage wrote it and `_emit` said so)."""
        name = self._names[topic]
        out = []
        for m in self._log.messages:
            if m.topic != name or m.value is None:
                continue
            for item in unpack(self._codec, m.key, m.value):
                if item.record is None:
                    raise DecodeError(item.error or "no record")
                out.append(((item.key or b"").decode(), item.record))
        return out

    def state(self, stage: str, key: str) -> BaseModel | None:
        """A key's state in `stage`, as the stage loads it (None: no state yet)."""
        wired = self._stages[stage]
        stored = wired.table.get(key)
        return wired.stage.state_model.model_validate(stored["state"]) if stored else None

    def ledger(self, stage: str, key: str) -> dict[str, Any]:
        """A key's ledger rows in `stage`, by row name, as stored (`{"v", "base", "value"}`)."""
        prefix = ledger_key(key, "")
        table = self._stages[stage].table
        return {k[len(prefix):]: v for k, v in table.store.items() if k.startswith(prefix)}

    def stored(self, stage: str) -> dict[str, Any]:
        """A copy of everything `stage` stores (states and ledger rows), by table key."""
        return copy.deepcopy(self._stages[stage].table.store)

    def writes(self, stage: str) -> int:
        """How many table writes `stage` has made (a quiet tick makes none)."""
        return len(self._stages[stage].table.log)

    def end_offsets(self) -> dict[str, int]:
        """Each topic's next offset, by full name."""
        return dict(self._log.ends)

    def restore(self, stage: str, stored: Mapping[str, Any], end_offsets: Mapping[str, int],
                ) -> None:
        """Load what `stage` stored in another run (a golden fixture), and go on from the
        offsets that run had reached, as a restarted worker does."""
        wired = self._stages[stage]
        if self._log.messages:
            raise TopologyError("restore before anything is sent")
        for key, value in stored.items():
            wired.table.put(key, value, 0)
        _commit(wired.table)
        for name, offset in end_offsets.items():
            self._log.ends[name] = max(offset, self._log.ends.get(name, 0))

    @property
    def stages(self) -> Sequence[str]:
        return list(self._stages)

    @property
    def codec(self) -> Codec:
        """The codec the stages read and write with (to make a record's bytes by hand)."""
        return self._codec


def _commit(table: MemoryTable) -> None:
    """What a worker's pre-commit flush does to a table: the changelog lands, then the store
    takes what landed (streams/memory.py's `flush`, without a producer: outputs land at once)."""
    table.flush()
    table.persist()


def _state_keys(table: MemoryTable) -> list[str]:
    """The keys that hold a state (the others hold ledger rows)."""
    return [k for k, v in table.store.items() if isinstance(v, dict) and "state" in v]
