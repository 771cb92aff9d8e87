"""The Faust app, assembled: the stateful stages' tables, changelog writers and agents.

The stages are declared in their own modules (streams/players.py, streams/clicks.py) and run by
the stage runtime (streams/runtime.py: key checks, dead letters, ledger rows before state,
outputs, profile, metrics); this module only gives each its Faust table, changelog writer, lag
gauge and agent, and must not grow stage logic of its own.

Every stage takes records in micro-batches (`agent_batch_max` records or `agent_batch_wait_ms`,
whichever comes first) and applies them key by key, so a key's state is decoded and written once
per batch: Faust's per-record cost is the ceiling (docs/benchmarks.md), so the agents add as
little as they can on top of it.

Every agent runs at concurrency 1: faust-streaming can commit past an unprocessed message with
more (its issue 606), and exactly-once is not available on every broker; every step is idempotent
instead.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import faust
from faust.streams import _current_event

from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import Node, Topic, check_declaration, topic_name
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.players import PlayerPolicy
from clickpath.infra.commission_policy import CommissionPolicies
from clickpath.infra.faults import on_kill
from clickpath.infra.identity_policy import identity_policy
from clickpath.infra.kafka import faust_credentials, make_producer
from clickpath.infra.person_keys import PersonKeys
from clickpath.infra.pseudonym_keys import stable_key
from clickpath.infra.sealed_events import revealer
from clickpath.settings import Settings
from clickpath.streams.aiokafka_fixes import install_consumer_fixes
from clickpath.streams.changelog import ChangelogWriter, with_ascii_keys
from clickpath.streams.clicks import click_stage
from clickpath.streams.commissions import commissions_stage
from clickpath.streams.earnings import earnings_stage
from clickpath.streams.identifiers import identifier_stage
from clickpath.streams.identity import identity_stage
from clickpath.streams.lag import LagTracker
from clickpath.streams.output_producer import output_producer
from clickpath.streams.players import player_stage
from clickpath.streams.runtime import Stage, StageRuntime


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
    """Build the app with its tables and agents; nothing connects until a worker starts.

    Assembly only: each stage is declared in its own module (streams/players.py,
    streams/clicks.py) and run by streams/runtime.py; here each gets its table, changelog
    writer, lag gauge and agent."""
    app = faust_app(settings, datadir, f"{settings.topic_prefix}-streams")
    codec = build_codec(settings.schemas_dir, settings.schema_registry_url)
    names = {t: topic_name(settings, t) for t in Topic}
    policy = PlayerPolicy(
        recent_ids=settings.dedup_recent_ids,
        pseudonym_key=stable_key(settings),  # player tokens never rotate (docs/privacy.md)
    )
    window = AttributionWindow(
        lookback=timedelta(days=settings.attribution_lookback_days),
        clock_skew=timedelta(seconds=settings.attribution_clock_skew_s),
    )
    policies = CommissionPolicies(settings)  # plans and catalogue re-read when they change
    identity = identity_policy(settings)  # fixed while the worker runs (a score must not move)
    reveal = revealer(PersonKeys.from_settings(settings))  # the doors' sealed fields, opened
    stages: list[Stage[Any]] = [
        player_stage(policy, names[Topic.ATTRIBUTIONS]),
        click_stage(window),
        earnings_stage(policies.earnings),
        commissions_stage(policies.commissions),
        identity_stage(lambda: identity, reveal),
        identifier_stage(lambda: identity),
    ]

    changelog_producer = make_producer(settings, **{"linger.ms": settings.producer_linger_ms})
    tables = {
        stage.name: with_ascii_keys(
            app.Table(stage.name, default=None, partitions=settings.partitions, key_type=str)
        )
        for stage in stages
    }
    writers = {name: ChangelogWriter(table, changelog_producer) for name, table in tables.items()}
    for name, writer in writers.items():
        on_kill(f"{name}.changelog", writer.flush_queued)  # test-only crash points (infra/faults)
    producer = output_producer(settings, codec, app, changelogs=list(writers.values()))
    for stage in stages:
        # The declaration must match the registry (contracts/topics.py): a stage reading other
        # topics, or refusing a record class its inputs carry, stops here, before any record.
        check_declaration(Node(stage.name), stage.inputs, stage.accepts)
        writer = writers[stage.name]
        runtime = StageRuntime(
            stage, codec, names, store=writer, changelog=writer, producer=producer,
            scope=acting_for, partitions=settings.partitions,
        )  # reads through the writer: its unacknowledged values first
        _add_agent(app, settings, runtime)
        _forget_on_revoke(app, runtime, writer)
    return app


def _forget_on_revoke(app: faust.App, runtime: StageRuntime[Any], writer: ChangelogWriter) -> None:
    """A revoked partition's lineage and unacknowledged writes are no longer this worker's."""
    inputs = frozenset(runtime.input_topics)

    def revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:  # args: (revoked,)
        partitions = {tp.partition for tp in args[0] if tp.topic in inputs}
        runtime.revoked(partitions)
        writer.revoked(partitions)

    app.on_partitions_revoked.connect(revoked)


def _add_agent(app: faust.App, settings: Settings, runtime: StageRuntime[Any]) -> None:
    """One agent per stage, at concurrency 1, taking micro-batches."""
    name = runtime.stage.name
    lag = LagTracker(app, name, runtime.input_topics)
    runtime.on_handled = lag.handled
    batch_max, within = settings.agent_batch_max, settings.agent_batch_wait_ms / 1000
    topic = app.topic(
        *runtime.input_topics, partitions=settings.partitions, key_serializer="raw",
        value_serializer="raw",
    )

    async def agent(stream: Any) -> None:  # a faust Stream (take_events is not typed)
        async for events in stream.take_events(batch_max, within=within):
            runtime.process_batch(events)

    app.agent(topic, name=f"{__name__}.{name}_agent", concurrency=1)(agent)


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
