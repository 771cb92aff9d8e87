"""The Faust app: two stateful agents, thin adapters around `clickpath.domain`.

- `players` reads operator events (keyed `brand_id:player_id`) and attribution decisions (keyed
  the same way), deduplicates, detects the FTD and publishes canonical events, funnel facts and
  postbacks. Most events (deposits, wagers, KYC...) take this one Faust hop and no other.
- `clicks` reads clicks and the click links that registrations emit (both keyed `click_id`, so
  they meet in one partition) and decides attribution once it has both.

Both run at concurrency 1: faust-streaming can commit past an unprocessed message with more
(its issue 606), and exactly-once is not available on every broker; every step is idempotent
instead. Records are decoded here, at the edge; a record that fails goes to the dead-letter
topic with its reason and the agent carries on.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import faust
import structlog

from clickpath.domain.clicks import ClickState, decide_click, replay_click_outputs
from clickpath.domain.outputs import Outcome, Output
from clickpath.domain.players import PlayerPolicy, PlayerState, decide_player, replay_outputs
from clickpath.metrics import DEAD_LETTERS, EVENTS, PROCESSING_TIME, observe_event_latency
from clickpath.models import (
    Attribution,
    Click,
    ClickLink,
    DeadLetter,
    IngressEvent,
    PlayerEvent,
    Record,
    utcnow,
)
from clickpath.serde import DecodeError, build_codec
from clickpath.settings import Settings
from clickpath.topics import Topic, topic_name
from streams.aiokafka_fixes import install_consumer_fixes
from streams.lag import LagTracker
from streams.output_producer import output_producer

log = structlog.get_logger(__name__)
RAW = {"key_serializer": "raw", "value_serializer": "raw"}
TABLE = {"key_type": str}


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
        store="rocksdb://" if settings.table_store == "rocksdb" else "memory://",
        datadir=str(datadir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        # Group joins stall for session.timeout/2 on the embedded broker (PLATFORM.md); short
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
    lookback = timedelta(days=settings.attribution_lookback_days)

    out_topics = {t: topic_name(settings, t) for t in Topic}
    producer = output_producer(settings, codec, app)
    players = app.Table("players", default=None, partitions=settings.partitions, **TABLE)
    clicks = app.Table("clicks", default=None, partitions=settings.partitions, **TABLE)

    def send(outputs: list[Output]) -> None:
        for out in outputs:
            producer.send_raw(out_topics[out.topic], out.key.encode(), codec.encode(out.record))

    async def dead_letter(stage: str, event: Any, reason: str) -> None:
        msg = event.message
        record = DeadLetter(
            original_key=msg.key,
            original_value=msg.value or b"",
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            stage=stage,
            reason=reason[:2000],
            failed_at=utcnow(),
        )
        producer.send_raw(out_topics[Topic.DEAD_LETTER], msg.key, codec.encode(record))
        DEAD_LETTERS.labels(stage).inc()
        EVENTS.labels(stage, "dead_letter").inc()
        log.warning("dead_letter", stage=stage, topic=msg.topic, offset=msg.offset, reason=reason)

    def decode_as(event: Any, expected: tuple[type[Record], ...], key_of: Any) -> Record:
        record = codec.decode(event.value)
        if not isinstance(record, expected):
            raise DecodeError(f"{type(record).__name__} does not belong on {event.message.topic}")
        key = (event.key or b"").decode(errors="replace")
        if key != key_of(record):
            raise DecodeError(f"record key {key!r} must be {key_of(record)!r}")
        return record

    player_input = app.topic(
        topic_name(settings, Topic.EVENTS),
        topic_name(settings, Topic.ATTRIBUTIONS),
        partitions=settings.partitions,
        **RAW,
    )

    player_lag = LagTracker(app, "players")
    click_lag = LagTracker(app, "clicks")

    @app.agent(player_input, concurrency=1)
    async def player_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            player_lag.observe(event.message)
            try:
                record = decode_as(event, (PlayerEvent, Attribution), _person_key)
            except DecodeError as e:
                await dead_letter("players", event, str(e))
                continue
            person_id = _person_key(record)
            stored = players.get(person_id)
            state = PlayerState.model_validate(stored["state"]) if stored else None
            applied = stored["applied"] if stored else {}
            if state is not None and _already_applied(applied, event):
                outputs, outcome = replay_outputs(state, record, policy), Outcome.REPLAYED
            else:
                new_state, outputs, outcome = decide_player(state, record, policy)
                if outcome is Outcome.ACCEPTED:
                    players[person_id] = _entry(new_state, applied, event)
            send(outputs)
            EVENTS.labels("players", outcome.value).inc()
            PROCESSING_TIME.labels("players").observe(time.perf_counter() - started)
            if isinstance(record, IngressEvent):
                observe_event_latency("players", record.occurred_at)

    click_input = app.topic(
        topic_name(settings, Topic.CLICKS),
        topic_name(settings, Topic.CLICK_LINKS),
        partitions=settings.partitions,
        **RAW,
    )

    @app.agent(click_input, concurrency=1)
    async def click_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            click_lag.observe(event.message)
            try:
                record = decode_as(event, (Click, ClickLink), lambda r: r.click_id)
            except DecodeError as e:
                await dead_letter("clicks", event, str(e))
                continue
            stored = clicks.get(record.click_id)
            state = ClickState.model_validate(stored["state"]) if stored else None
            applied = stored["applied"] if stored else {}
            if state is not None and _already_applied(applied, event):
                outputs, outcome = replay_click_outputs(state, record), Outcome.REPLAYED
            else:
                new_state, outputs, outcome = decide_click(state, record, lookback, utcnow())
                if outcome is Outcome.ACCEPTED:
                    clicks[record.click_id] = _entry(new_state, applied, event)
            send(outputs)
            EVENTS.labels("clicks", outcome.value).inc()
            PROCESSING_TIME.labels("clicks").observe(time.perf_counter() - started)
            if isinstance(record, Click):
                observe_event_latency("clicks", record.occurred_at)

    return app


def _already_applied(applied: dict[str, int], event: Any) -> bool:
    """True for a record at or below the last offset applied to this key's state from its topic.

    Only a replay after a crash reads such a record again; its state is already written but
    the outputs sent with it may have been lost, so they are sent again (`replay_outputs`).
    """
    return event.message.offset <= applied.get(event.message.topic, -1)


def _entry(state: Any, applied: dict[str, int], event: Any) -> dict[str, Any]:
    """A table value: the state and, per input topic, the last offset applied to it."""
    return {
        "state": state.model_dump(mode="json"),
        "applied": {**applied, event.message.topic: event.message.offset},
    }


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
