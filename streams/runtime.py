"""The stateful-stage seam: a stage is a declaration (`Stage`), the runtime owns its state.

A stateful stage (players, clicks, and the commissions, identity and CRM stages to come) says
what it reads, how it keys and decides, and what it sends after a run; `StageRuntime` does the
rest, once for every stage: unpack a micro-batch, check each record's class and key (a bad one
is a dead letter, the rest carry on), group by key, read the key's stored envelope, apply the
run (`clickpath.domain.runs.apply_run`), store the ledger rows before the state that counts
them, send the outputs and what the stage emits after a run, count. Outputs to a batched topic
(`TopicSpec.batched`: canonical.events, players.profiles) go as batch records, one per partition
per micro-batch, so the stages that read them pay Faust's per-record cost once per batch. A
stage that shares an input with records meant for another (`Stage.wants`) skips those.

Written against three small protocols, so it runs with Faust in a worker (streams/app.py gives it
the table, the changelog writer and the output producer) and with the in-memory ones of
streams/memory.py in unit tests and the in-memory harness. It imports no Faust, and it must never
read a clock of its own or a table behind the decision's back: `now` is one per batch, and the
ledger a decision reads is handed to it.

Time is an input: a stage may declare `on_tick(state, now) -> (state | None, outputs)` and a
`ticks` topic. A tick is a record on that topic keyed by the stage's key, its time the record's
Kafka timestamp (no body: nothing to decode); it is positioned like any record, so a replayed
tick is recognised (the stage's `replay` gets it as a `Tick`). A tick that changes nothing
writes, emits and counts nothing, so an idle pipeline stays quiet; only an applied tick is
counted (outcome "tick"). Faust timers cannot do this:
a RocksDB store refuses a write outside an event.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import structlog
from pydantic import BaseModel

from clickpath.contracts.batches import KindPeek, Unpacked, unpack
from clickpath.contracts.models import DeadLetter, IngressEvent, Record, utcnow
from clickpath.contracts.serde import Codec, DecodeError
from clickpath.contracts.topics import SPECS, Topic
from clickpath.domain.ledger import Ledger, StoredLedger, ledger_key
from clickpath.domain.outputs import Outcome, Output, received_at_of
from clickpath.domain.runs import KeyRun, Positioned, apply_run
from clickpath.infra.batching import BatchEncoder, PartitionHold
from clickpath.infra.faults import fault_point
from clickpath.infra.metrics import (
    DEAD_LETTERS,
    EVENTS,
    PROCESSING_TIME,
    observe_event_latency,
    observe_event_time_lag,
)

log = structlog.get_logger(__name__)

S = TypeVar("S", bound=BaseModel)


class Message(Protocol):
    """A consumed Kafka record (Faust's `Message`, or streams/memory.py's)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp(self) -> float | None: ...


class Event(Protocol):
    """What an agent takes from its stream: a message (Faust's `EventT`)."""

    @property
    def message(self) -> Message: ...


class Store(Protocol):
    """Where a stage's stored values are read (the Faust table; the changelog writer, whose
    unacknowledged writes are read first)."""

    def get(self, key: str) -> Any: ...


class Changelog(Protocol):
    """Where a stage's values are written (streams/changelog.py: store and changelog)."""

    def put(self, key: str, value: Any, partition: int) -> None: ...


class Sender(Protocol):
    """Where outputs and dead letters go (infra/producer.py's EventProducer). `partition`: -1
    for the producer's murmur2 partitioner, else the one a batch record's items' keys get."""

    def send_raw(self, topic: str, key: bytes | None, value: bytes, partition: int = -1) -> None: ...


class Tick(Record):
    """Time passing for one key, read from a stage's `ticks` topic (never encoded: a tick has
    no body, its key and Kafka timestamp are all it carries)."""

    avro_name: ClassVar[str] = "clickpath.runtime.Tick"
    key: str
    at: datetime


# decide(state, item, now=, ledger=) and replay(state, item, now=, ledger=): the stage's adapters
# around its domain functions. `ledger` is the key's StoredLedger when the stage keeps ledger
# rows, else None.
Decide = Callable[..., tuple[Any, list[Output], Outcome]]
Replay = Callable[..., list[Output]]
OnTick = Callable[[Any, datetime], tuple[Any, list[Output]]]


@dataclass(frozen=True)
class Stage(Generic[S]):
    """A stateful stage, declared: everything the runtime needs to run it and nothing it runs."""

    name: str  # metrics label, dead letters' stage, fault points' prefix
    inputs: tuple[Topic, ...]  # co-partitioned: every record of a key comes from one partition
    key_of: Callable[[Any], str]  # a record's key; the Kafka key must equal it
    accepts: tuple[type[Record], ...]  # anything else on the inputs is a dead letter
    state_model: type[S]
    state_format: int  # the stored shape: bump it when that changes (older ones must still load)
    decide: Decide
    replay: Replay
    timed: type[Record] | tuple[type[Record], ...] = IngressEvent  # feeds the latency histogram
    keeps_ledger: bool = False  # the state's history lives in ledger rows beside it
    after_run: Callable[[str, S, datetime], Output] | None = None  # once per changed key
    ticks: Topic | None = None  # the tick input, with `on_tick`
    on_tick: OnTick | None = None  # (state, now) -> (new state or None if unchanged, outputs)
    # Which accepted records on the inputs are for this stage; the others are skipped (counted
    # "skipped", never dead letters, their key unchecked): another stage's records on a shared
    # topic (the click stage's canonical clicks, keyed by click_id, on canonical.events).
    wants: Callable[[Record], bool] | None = None
    # The same before decoding, by a record's `event_type` as batches.KindPeek reads it from
    # its bytes (canonical events): the kinds a stage never acts on cost it no decode. Records
    # without a readable kind are decoded and go through `wants`.
    wants_kind: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        if (self.ticks is None) != (self.on_tick is None):
            raise ValueError(f"stage {self.name}: `ticks` and `on_tick` go together")


# How many lineages a stored state remembers having forked from. An orphan row is recognised by
# its lineage being in `forks` (or newer than the oldest one there), and it is rewritten to its
# base as soon as a run reads it, which the replay after a crash does: eight more takeovers of
# its partition before that are not a case to design for. A lineage older than all kept reads as
# an ancestor, as every natural-key row written long ago must.
FORKS_KEPT = 8


def new_lineage() -> str:
    """A lineage token, drawn per process and partition assignment: when it was drawn (ns,
    fixed-width hex, so tokens order by it; clickpath.domain.ledger relies on that), then 32
    random bits."""
    return f"{time.time_ns():016x}{secrets.token_hex(4)}"


def forked(forks: dict[str, int], lineage: str, version: int) -> dict[str, int]:
    """`forks` with the state's old `lineage` at `version` added, the oldest beyond
    FORKS_KEPT dropped: the lowest tokens, so every dropped lineage stays below every kept one
    (the ledger's ancestor rule is "older than every lineage the state knows")."""
    new = dict(forks)
    new[lineage] = version
    while len(new) > FORKS_KEPT:
        del new[min(new)]
    return new


class StageRuntime(Generic[S]):
    """Runs one stage's micro-batches against a store, a changelog and a producer."""

    def __init__(
        self,
        stage: Stage[S],
        codec: Codec,
        topic_names: Mapping[Topic, str],
        store: Store,
        changelog: Changelog,
        producer: Sender,
        scope: Callable[[Any], AbstractContextManager[Any]] = lambda event: nullcontext(),
        on_handled: Callable[[Iterable[Message]], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        partitions: int,
        batched: Iterable[Any] | None = None,
    ) -> None:
        """`scope(event)`: entered around a key's read and write (Faust: make the key's latest
        event current, which picks the store's partition). `on_handled`: told which messages
        were processed (the lag gauge). `clock`: the processing time, read once per batch.
        `partitions`: every topic's partition count (settings.partitions), which the batch
        records of a batched topic are grouped by, as the producer's partitioner would.
        `batched`: the topics written as batch records (default: the registry's `batched`)."""
        self.stage = stage
        self._codec = codec
        self._skip = KindPeek(codec).skipper(stage.wants_kind)
        self._names = topic_names
        self._store = store
        self._changelog = changelog
        self._producer = producer
        self._scope = scope
        self.on_handled = on_handled
        self._clock = clock
        self._partitions = partitions
        self._batched = frozenset(
            (t for t in topic_names if t in SPECS and SPECS[t].batched) if batched is None
            else batched
        )
        self._encoder = BatchEncoder(codec)
        # Test-only crash points (clickpath.infra.faults), named once: a pass costs a compare.
        self._after_rows, self._after_state, self._after_outputs = (
            f"{stage.name}.{point}" for point in ("after_rows", "after_state", "after_outputs")
        )
        self.input_topics = [topic_names[t] for t in stage.inputs]
        self._tick_topic = topic_names[stage.ticks] if stage.ticks is not None else None
        if self._tick_topic is not None:
            self.input_topics.append(self._tick_topic)
        self._lineages: dict[int, str] = {}  # partition -> this assignment's lineage token

    def lineage(self, partition: int) -> str:
        """The lineage this process writes `partition`'s ledger rows and states under: a new
        one per process and per assignment of the partition (`revoked` forgets it)."""
        token = self._lineages.get(partition)
        if token is None:
            token = self._lineages[partition] = new_lineage()
        return token

    def revoked(self, partitions: Iterable[int]) -> None:
        """The partitions are no longer this process's: if they come back, the states they hold
        may be another worker's, so writes after that are a new lineage."""
        for partition in partitions:
            self._lineages.pop(partition, None)

    def send(self, outputs: Iterable[Output]) -> None:
        """Send `outputs` now: one record each, but on a batched topic one batch record per
        partition (`send_held`)."""
        held = PartitionHold(self._partitions, self._encoder)
        self.hold(outputs, held)
        self.send_held(held)

    def hold(self, outputs: Iterable[Output], held: PartitionHold) -> None:
        """Send each output to an unbatched topic now; encode each to a batched topic into
        `held` (by topic and the partition its key gets, in order)."""
        names, codec, producer, batched = self._names, self._codec, self._producer, self._batched
        for out in outputs:
            value = codec.encode(out.record)
            if out.topic in batched:
                held.add(names[out.topic], out.key, value)
            else:
                producer.send_raw(names[out.topic], out.key.encode(), value)

    def send_held(self, held: PartitionHold) -> None:
        """Produce the held outputs as batch records, one per partition, to the partition each
        item's own key gets: per-key order and co-partitioning are as with single records."""
        for record in held.take():
            self._producer.send_raw(record.topic, record.key, record.value, record.partition)

    def dead_letter(self, msg: Message, event: Unpacked, reason: str) -> None:
        stage = self.stage.name
        record = DeadLetter.of(
            key=event.key, value=event.value, topic=msg.topic, partition=msg.partition,
            offset=msg.offset, stage=stage, reason=reason, at=utcnow(), batch_index=event.index,
        )
        self._producer.send_raw(self._names[Topic.DEAD_LETTER], event.key, self._codec.encode(record))
        DEAD_LETTERS.labels(stage).inc()
        EVENTS.labels(stage, "dead_letter").inc()
        log.warning(
            "dead_letter", stage=stage, topic=msg.topic, offset=msg.offset, index=event.index,
            reason=reason,
        )

    def checked(self, msg: Message, event: Unpacked) -> Record | None:
        """The event's record if it belongs on this stage under its key, None if the stage
        does not want it (`Stage.wants`: its key is not checked), else DecodeError."""
        record = event.record
        if event.error is not None or record is None:
            raise DecodeError(event.error or "no record")
        if not isinstance(record, self.stage.accepts):
            raise DecodeError(f"{type(record).__name__} does not belong on {msg.topic}")
        if self.stage.wants is not None and not self.stage.wants(record):
            return None
        key = (event.key or b"").decode(errors="replace")
        expected = self.stage.key_of(record)
        if key != expected:
            raise DecodeError(f"record key {key!r} must be {expected!r}")
        return record

    def process_batch(self, events: Sequence[Event]) -> None:
        """Unpack a micro-batch (single records and batch records alike), apply it key by key
        (one state write per changed key), send the outputs: those to batched topics once, at
        the end of the micro-batch (or when it raises), packed per partition. Nothing is
        acknowledged before the pre-commit flush either way, so a crash leaves what it left."""
        started = time.perf_counter()
        stage = self.stage
        name = stage.name
        now = self._clock()  # one processing time per batch: the domain reads no clock of its own
        runs: dict[str, list[Positioned[Any]]] = {}
        last_event: dict[str, Any] = {}
        for event in events:
            msg = event.message
            if msg.topic == self._tick_topic:
                self._collect_tick(msg, event, runs, last_event, now)
                continue
            for item in unpack(self._codec, msg.key, msg.value, self._skip):
                if item.skipped:
                    EVENTS.labels(name, "skipped").inc()
                    continue
                try:
                    record = self.checked(msg, item)
                except DecodeError as e:
                    self.dead_letter(msg, item, str(e))
                    continue
                if record is None:
                    EVENTS.labels(name, "skipped").inc()
                    continue
                key = stage.key_of(record)
                runs.setdefault(key, []).append(
                    Positioned(msg.topic, msg.offset, record, item.index or 0)
                )
                last_event[key] = event
                if isinstance(record, stage.timed):
                    # clickpath's delay from when a door took the event; how late the event
                    # itself was (an import, the demo's backdated history) is a metric apart.
                    received = received_at_of(record, _kafka_time(msg, now))
                    observe_event_latency(name, received)
                    observe_event_time_lag(name, record.occurred_at, received)  # type: ignore[attr-defined]

        decide = stage.decide if stage.on_tick is None else self._decide_or_tick
        held = PartitionHold(self._partitions, self._encoder)
        try:
            for key, records in runs.items():
                current = last_event[key]
                with self._scope(current):
                    run = self._run_key(key, records, current.message.partition, now, decide)
                self.hold(run.outputs, held)
                if stage.after_run is not None and run.state is not None and (
                    run.changed or Outcome.REPLAYED in run.outcomes
                ):
                    self.hold([stage.after_run(key, run.state, now)], held)
                fault_point(self._after_outputs)
                self._count(records, run.outcomes)
        finally:
            # Every output of a key whose state was written reaches the producer, as when each
            # key's were sent at once: the flush before the commit then waits for them.
            self.send_held(held)
        if self.on_handled is not None:
            self.on_handled(event.message for event in events)
        PROCESSING_TIME.labels(name).observe(time.perf_counter() - started)

    def _run_key(self, key: str, records: list[Positioned[Any]], partition: int, now: datetime,
                 decide: Decide) -> KeyRun[Any]:
        """Read the key's stored envelope, apply its records, write its ledger rows and then
        its state (the caller has entered the key's scope)."""
        stage, store, changelog = self.stage, self._store, self._changelog
        stored = store.get(key)
        state: Any = stage.state_model.model_validate(stored["state"]) if stored else None
        if stage.keeps_ledger:
            # The envelope's lineage says which ledger rows its state counts (StoredLedger).
            lineage = stored.get("lineage", "") if stored else ""
            forks = (stored.get("forks") or {}) if stored else {}
            version = state.version if state else 0
            token = self.lineage(partition)
            ledger: StoredLedger | None = StoredLedger(
                partial(_read_row, store, key), version, lineage, forks, token
            )
        else:
            ledger = None
        run = apply_run(
            state,
            stored["applied"] if stored else {},
            records,
            partial(decide, now=now, ledger=ledger),
            partial(stage.replay, now=now, ledger=ledger),
        )
        if run.changed and run.state is not None:
            # Ledger rows first: the state that counts them is never stored before them.
            for row, value in ledger.writes(run.state.version) if ledger else ():
                changelog.put(ledger_key(key, row), value, partition)
            fault_point(self._after_rows)
            value = {"state": run.state.model_dump(mode="json"), "applied": run.applied}
            if ledger is not None:
                value["lineage"] = token
                value["forks"] = forks if lineage == token else forked(forks, lineage, version)
            changelog.put(key, value, partition)
            fault_point(self._after_state)
        return run

    def _count(self, records: list[Positioned[Any]], outcomes: list[Outcome]) -> None:
        name = self.stage.name
        if self._tick_topic is None:
            for outcome in outcomes:
                EVENTS.labels(name, outcome.value).inc()
            return
        for item, outcome in zip(records, outcomes, strict=True):
            if not isinstance(item.record, Tick):
                EVENTS.labels(name, outcome.value).inc()
            elif outcome is Outcome.ACCEPTED:
                EVENTS.labels(name, "tick").inc()  # a quiet (or replayed) tick counts nothing

    def _collect_tick(self, msg: Message, event: Event, runs: dict[str, list[Positioned[Any]]],
                      last_event: dict[str, Any], now: datetime) -> None:
        key = (msg.key or b"").decode(errors="replace")
        at = datetime.fromtimestamp(msg.timestamp, UTC) if msg.timestamp else now
        runs.setdefault(key, []).append(Positioned(msg.topic, msg.offset, Tick(key=key, at=at)))
        last_event[key] = event

    def _decide_or_tick(self, state: Any, item: Positioned[Any], now: datetime,
                        ledger: Ledger | None) -> tuple[Any, list[Output], Outcome]:
        if not isinstance(item.record, Tick):
            return self.stage.decide(state, item, now=now, ledger=ledger)
        assert self.stage.on_tick is not None
        if state is None:
            return state, [], Outcome.DUPLICATE  # nothing to wake: a tick makes no state
        new_state, outputs = self.stage.on_tick(state, item.record.at)
        if new_state is None:
            return state, [], Outcome.DUPLICATE  # not applied, not counted (`_count`)
        return new_state, outputs, Outcome.ACCEPTED


def _kafka_time(msg: Message, fallback: datetime) -> datetime:
    """The record's Kafka timestamp: when the broker (or an operator's own producer) took a
    record that no door stamped with `received_at`."""
    stamp = msg.timestamp
    return datetime.fromtimestamp(stamp, UTC) if stamp else fallback


def _read_row(store: Store, person_id: str, row: str) -> Any:
    return store.get(ledger_key(person_id, row))
