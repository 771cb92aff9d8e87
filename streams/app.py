"""The Faust app: two stateful agents, thin adapters around `clickpath.domain`.

- `players` reads operator events (keyed `brand_id:player_id`) and attribution decisions (keyed
  the same way), deduplicates, detects the FTD and publishes canonical events, funnel facts and
  postbacks. Most events (deposits, wagers, KYC...) take this one Faust hop and no other.
- `clicks` reads clicks and the click links that registrations emit (both keyed `click_id`, so
  they meet in one partition) and decides attribution once it has both.

Both take records in micro-batches (`agent_batch_max` records or `agent_batch_wait_ms`,
whichever comes first) and apply them key by key, so a key's state is decoded and written once
per batch: Faust's per-record cost is the ceiling (docs/benchmarks.md), so the agents add as little as
they can on top of it.

Both run at concurrency 1: faust-streaming can commit past an unprocessed message with more
(its issue 606), and exactly-once is not available on every broker; every step is idempotent
instead. Records are decoded here, at the edge; a record that fails goes to the dead-letter
topic with its reason and the agent carries on.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import faust
import structlog
from faust.streams import _current_event
from pydantic import BaseModel

from clickpath.contracts.batches import Unpacked, unpack
from clickpath.contracts.models import (
    Attribution,
    Click,
    ClickLink,
    DeadLetter,
    IngressEvent,
    PlayerEvent,
    Record,
    Registration,
    utcnow,
)
from clickpath.contracts.serde import DecodeError, build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.clicks import ClickState, decide_click, replay_click_outputs
from clickpath.domain.ledger import StoredLedger, ledger_key
from clickpath.domain.outputs import Outcome, Output, received_at_of, with_received_at
from clickpath.domain.players import PlayerPolicy, PlayerState, decide_player, replay_outputs
from clickpath.domain.profile import player_profile
from clickpath.domain.runs import Positioned, apply_run
from clickpath.infra.kafka import faust_credentials, make_producer
from clickpath.infra.metrics import (
    DEAD_LETTERS,
    EVENTS,
    PROCESSING_TIME,
    REGISTRATIONS_UNATTRIBUTED,
    observe_event_latency,
    observe_event_time_lag,
)
from clickpath.settings import Settings
from clickpath.streams.aiokafka_fixes import install_consumer_fixes
from clickpath.streams.changelog import ChangelogWriter
from clickpath.streams.lag import LagTracker
from clickpath.streams.output_producer import output_producer

log = structlog.get_logger(__name__)


def faust_broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip()]


def faust_app(settings: Settings, datadir: Path, name: str) -> faust.App:
    """A Faust app with the pipeline's broker settings (the benchmark's baseline uses it too)."""
    tansu = settings.tansu_compat
    install_consumer_fixes(
        fetch_wait_ms=settings.fetch_wait_ms,
        tansu_bootstrap=settings.kafka_bootstrap_servers if tansu else None,
    )
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        name,
        broker=faust_broker_urls(settings.kafka_bootstrap_servers or ""),
        broker_credentials=faust_credentials(settings),  # TLS/SASL (None: PLAINTEXT)
        store="rocksdb://" if settings.table_store == "rocksdb" else "memory://",
        datadir=str(datadir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        # Group joins stall for session.timeout/2 on the embedded broker (docs/topics.md); short
        # timeouts also make failover after a crash quick on a real cluster.
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        broker_rebalance_timeout=12,
        # On Tansu the changelog end offsets come from fetches (aiokafka_fixes, fix 3), so
        # producers batch normally and tables still recover completely after a restart.
        producer_linger=settings.producer_linger_ms / 1000,
    )


def create_app(settings: Settings, datadir: Path) -> faust.App:
    """Build the app with its tables and agents; nothing connects until a worker starts."""
    app = faust_app(settings, datadir, f"{settings.topic_prefix}-streams")
    codec = build_codec(settings.schemas_dir, settings.schema_registry_url)
    policy = PlayerPolicy(
        recent_ids=settings.dedup_recent_ids,
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
    )
    window = AttributionWindow(
        lookback=timedelta(days=settings.attribution_lookback_days),
        clock_skew=timedelta(seconds=settings.attribution_clock_skew_s),
    )

    out_topics = {t: topic_name(settings, t) for t in Topic}
    players = app.Table("players", default=None, partitions=settings.partitions, key_type=str)
    clicks = app.Table("clicks", default=None, partitions=settings.partitions, key_type=str)

    changelog_producer = make_producer(settings, **{"linger.ms": settings.producer_linger_ms})
    player_log = ChangelogWriter(players, changelog_producer)
    click_log = ChangelogWriter(clicks, changelog_producer)
    producer = output_producer(settings, codec, app, changelogs=[player_log, click_log])

    def send(outputs: list[Output]) -> None:
        for out in outputs:
            producer.send_raw(out_topics[out.topic], out.key.encode(), codec.encode(out.record))

    def dead_letter(stage: str, msg: Any, event: Unpacked, reason: str) -> None:
        record = DeadLetter.of(
            key=event.key, value=event.value, topic=msg.topic, partition=msg.partition,
            offset=msg.offset, stage=stage, reason=reason, at=utcnow(), batch_index=event.index,
        )
        producer.send_raw(out_topics[Topic.DEAD_LETTER], event.key, codec.encode(record))
        DEAD_LETTERS.labels(stage).inc()
        EVENTS.labels(stage, "dead_letter").inc()
        log.warning(
            "dead_letter", stage=stage, topic=msg.topic, offset=msg.offset, index=event.index,
            reason=reason,
        )

    def checked(msg: Any, event: Unpacked, kind: _Kind) -> Record:
        """The event's record if it belongs on this stage under its key, else DecodeError."""
        record = event.record
        if event.error is not None or record is None:
            raise DecodeError(event.error or "no record")
        if not isinstance(record, kind.accepts):
            raise DecodeError(f"{type(record).__name__} does not belong on {msg.topic}")
        key = (event.key or b"").decode(errors="replace")
        expected = kind.key_of(record)
        if key != expected:
            raise DecodeError(f"record key {key!r} must be {expected!r}")
        return record

    async def process_batch(stage: str, events: list[Any], kind: _Kind) -> None:
        """Unpack a micro-batch (single records and batch records alike), apply it key by key
        (one state write per changed key), send the outputs."""
        started = time.perf_counter()
        now = utcnow()  # one processing time per batch: the domain reads no clock of its own
        runs: dict[str, list[Positioned[Any]]] = {}
        last_event: dict[str, Any] = {}
        for event in events:
            msg = event.message
            for item in unpack(codec, msg.key, msg.value):
                try:
                    record = checked(msg, item, kind)
                except DecodeError as e:
                    dead_letter(stage, msg, item, str(e))
                    continue
                key = kind.key_of(record)
                runs.setdefault(key, []).append(
                    Positioned(msg.topic, msg.offset, record, item.index or 0)
                )
                last_event[key] = event
                if isinstance(record, kind.timed):
                    # clickpath's delay from when a door took the event; how late the event
                    # itself was (an import, the demo's backdated history) is a metric apart.
                    received = received_at_of(record, _kafka_time(msg, now))
                    observe_event_latency(stage, received)
                    observe_event_time_lag(stage, record.occurred_at, received)

        for key, records in runs.items():
            current = last_event[key]
            partition = current.message.partition
            with acting_for(current):
                stored = kind.table.get(key)
                state: Any = kind.state_model.model_validate(stored["state"]) if stored else None
                ledger = StoredLedger(
                    partial(_read_row, kind.table, key), state.version if state else 0
                ) if kind.has_ledger else None
                run = apply_run(
                    state,
                    stored["applied"] if stored else {},
                    records,
                    partial(kind.decide, now=now, ledger=ledger),
                    partial(kind.replay, now=now, ledger=ledger),
                )
                if run.changed and run.state is not None:
                    # Ledger rows first: the state that counts them is never stored before them.
                    for row, value in ledger.writes(run.state.version) if ledger else ():
                        kind.changelog.put(ledger_key(key, row), value, partition)
                    value = {"state": run.state.model_dump(mode="json"), "applied": run.applied}
                    kind.changelog.put(key, value, partition)
            send(run.outputs)
            if kind.profile is not None and run.state is not None and (
                run.changed or Outcome.REPLAYED in run.outcomes
            ):
                send([Output(Topic.PLAYER_PROFILES, key, kind.profile(run.state, now))])
            for outcome in run.outcomes:
                EVENTS.labels(stage, outcome.value).inc()
        kind.lag.handled(event.message for event in events)
        PROCESSING_TIME.labels(stage).observe(time.perf_counter() - started)

    batch_max, within = settings.agent_batch_max, settings.agent_batch_wait_ms / 1000
    player_topics = [out_topics[Topic.EVENTS], out_topics[Topic.ATTRIBUTIONS]]
    click_topics = [out_topics[Topic.CLICKS], out_topics[Topic.CLICK_LINKS]]
    forwarded = out_topics[Topic.ATTRIBUTIONS]  # registrations linked by the click stage

    def linked(item: Positioned[Any]) -> bool:
        return item.topic == forwarded and isinstance(item.record, Registration)

    player_kind = _Kind(
        accepts=(PlayerEvent, Attribution),
        key_of=_person_key,
        timed=IngressEvent,
        state_model=PlayerState,
        decide=lambda state, item, now, ledger: _stamped(
            decide_player(state, item.record, policy, now, linked(item), ledger=ledger), item, now
        ),
        replay=lambda state, item, now, ledger: with_received_at(
            replay_outputs(state, item.record, policy, now, linked(item), ledger=ledger),
            received_at_of(item.record, now),
        ),
        lag=LagTracker(app, "players", player_topics),
        table=players,
        changelog=player_log,
        has_ledger=True,
        profile=player_profile,
    )
    click_kind = _Kind(
        accepts=(Click, ClickLink, Registration),
        key_of=lambda record: record.click_id or "",
        timed=Click,
        state_model=ClickState,
        decide=lambda state, item, now, ledger: _noted(
            decide_click(state, item.record, window, now)
        ),
        replay=lambda state, item, now, ledger: replay_click_outputs(state, item.record, now),
        lag=LagTracker(app, "clicks", click_topics),
        table=clicks,
        changelog=click_log,
    )

    player_input = app.topic(
        *player_topics, partitions=settings.partitions, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(player_input, concurrency=1)
    async def player_agent(stream: Any) -> None:  # a faust Stream (take_events is not typed)
        async for events in stream.take_events(batch_max, within=within):
            await process_batch("players", events, player_kind)

    click_input = app.topic(
        *click_topics, partitions=settings.partitions, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(click_input, concurrency=1)
    async def click_agent(stream: Any) -> None:
        async for events in stream.take_events(batch_max, within=within):
            await process_batch("clicks", events, click_kind)

    return app


@dataclass(frozen=True)
class _Kind:
    """What differs between the two stateful stages."""

    accepts: tuple[type[Record], ...]
    key_of: Callable[[Any], str]
    timed: type[IngressEvent]  # records whose event time feeds the latency histogram
    state_model: type[BaseModel]
    decide: Callable[..., Any]  # (state, item, now, ledger)
    replay: Callable[..., list[Output]]  # (state, item, now, ledger)
    lag: LagTracker
    table: Any  # the faust Table of this stage's state
    changelog: ChangelogWriter
    has_ledger: bool = False  # the state's history lives in ledger rows beside it
    profile: Callable[[Any, datetime], Record] | None = None  # written once per changed key


@contextmanager
def acting_for(event: Any) -> Iterator[None]:
    """Make `event` Faust's current event while a table key is read and written.

    A table's changelog partition and its RocksDB partition store are chosen from the current
    event's partition. In a micro-batch the current event is whichever came last, so each
    key's read and write run as that key's own (latest) event; both input topics of an agent are
    co-partitioned, so every record of a key comes from the same partition.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def _kafka_time(msg: Any, fallback: datetime) -> datetime:
    """The record's Kafka timestamp: when the broker (or an operator's own producer) took a
    record that no door stamped with `received_at`."""
    stamp = getattr(msg, "timestamp", None)
    return datetime.fromtimestamp(stamp, UTC) if stamp else fallback


def _stamped(decided: tuple[Any, list[Output], Outcome], item: Positioned[Any], now: datetime,
             ) -> tuple[Any, list[Output], Outcome]:
    """A player decision whose postbacks carry when their cause was received."""
    state, outputs, outcome = decided
    return state, with_received_at(outputs, received_at_of(item.record, now)), outcome


def _noted(decided: tuple[Any, list[Output], Outcome]) -> tuple[Any, list[Output], Outcome]:
    """A click decision, with every registration it leaves unattributed logged and counted by
    reason: an operator sees why a player was not paid for (a replay is not counted again)."""
    for out in decided[1]:
        a = out.record
        if isinstance(a, Attribution) and a.status == "unattributed":
            REGISTRATIONS_UNATTRIBUTED.labels(a.reason or "unknown").inc()
            gap = (a.clicked_at - a.registered_at).total_seconds() if a.clicked_at else None
            log.info("registration_unattributed", reason=a.reason, brand_id=a.brand_id,
                     click_id=a.click_id, click_minus_registration_s=gap)
    return decided


def _read_row(table: Any, person_id: str, row: str) -> Any:
    return table.get(ledger_key(person_id, row))


def _person_key(record: Record) -> str:
    if isinstance(record, Attribution):
        return record.person_id
    assert isinstance(record, PlayerEvent)
    return record.person_id


def run_worker(settings: Settings, index: int = 0) -> None:
    """Run one Faust worker until it is stopped (SIGINT/SIGTERM)."""
    run_app(create_app(settings, settings.data_dir / f"worker-{index}"), settings)


def run_app(app: faust.App, settings: Settings) -> None:
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        override_logging=False,  # keep the structlog JSON handler the CLI installed
        redirect_stdouts=False,
        quiet=True,
    )
    worker.execute_from_commandline()
