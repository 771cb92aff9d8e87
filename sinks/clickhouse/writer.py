"""The ClickHouse sink's writer: canonical events, funnel facts, attributions, the delivery log,
player profiles, the commission ledger, the affiliates' player statuses and the identity graph's
links, person changes, signals and touchpoints (the clicks on each account's path, which the
identity stage decides: the sink does no linking of its own).

Replays are harmless without FINAL on any read: the funnel's materialized views count each
canonical event id and each fact version once, because the writer looks up what ClickHouse
already holds and writes only what is new (rows.py); facts are written as the cancel of the live
row plus the new one. Player profiles go to `player_profile_rows`, whose view keeps each
person's highest version (`players`), so they need no look-up. Inserts are column-oriented and
batched (at least 10k rows or about a second each). Attributions and the delivery log stay
ReplacingMergeTrees; so are the commission ledger, whose reads take each entry id's earliest
copy (deploy/clickhouse/009_commission_ledger.sql), the player statuses, whose reads take
each player's highest version (012_affiliate_players.sql), and the identity tables, whose views
take each link's, account's and signal's highest version and each change id once
(013_identity.sql).

Crash points (clickpath.infra.faults; tests/crash/test_sink_crash_points.py): a batch
is written one insert per table (`sink.after_insert.<table>`, `sink.mid_insert` between two of
them), then committed (`sink.before_commit`, sinks/base.py). A kill
at any of them replays the batch, and the look-ups above make the replay write only what is
missing. An insert of one table is one part per month partition; a kill between two parts of
one insert leaves some of its events stored, which the replay completes the same way (a fact's
cancel and new rows share a partition, so a pair never splits).

This module must never run an analyst's query: reports read on sessions of their own
(reports.py), never under `self.lock`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from clickhouse_connect.driver.client import Client
from confluent_kafka import Message

from clickpath.contracts.models import (
    AffiliatePlayerStatus,
    Attribution,
    CanonicalEvent,
    DeliveryAttempt,
    Erasure,
    IdentityLink,
    LedgerEntry,
    MultiAccountSignal,
    PersonChange,
    PlayerDayFact,
    PlayerProfile,
    Record,
    TouchpointLink,
    utcnow,
)
from clickpath.contracts.topics import Node, Topic, topics_consumed_by
from clickpath.domain.redact import redact
from clickpath.infra import erasures as erasing
from clickpath.infra.clickhouse import (
    connect,
    is_unwritable,
    query_known_events,
    query_stored_facts,
)
from clickpath.infra.faults import fault_point
from clickpath.infra.metrics import CLICKHOUSE_ROWS, observe_event_latency
from clickpath.infra.person_keys import PersonKeys
from clickpath.settings import Settings
from clickpath.sinks.base import BatchSink, SinkWriteError, UnwritableError
from clickpath.sinks.clickhouse.rows import (
    ATTEMPT_COLUMNS,
    ATTRIBUTION_COLUMNS,
    EVENT_COLUMNS,
    FACT_ROW_COLUMNS,
    IDENTITY_TOUCHPOINT_COLUMNS,
    LEDGER_COLUMNS,
    LINK_COLUMNS,
    PERSON_CHANGE_COLUMNS,
    PROFILE_ROW_COLUMNS,
    SIGNAL_COLUMNS,
    STATUS_COLUMNS,
    attempt_row,
    attribution_row,
    columns,
    event_row,
    fact_rows,
    identity_touchpoint_rows,
    ledger_rows,
    link_rows,
    new_events,
    newest_profiles,
    person_change_rows,
    profile_row,
    signal_rows,
    status_rows,
    unwritable_reason,
)
from clickpath.sinks.clickhouse.startup import prepare

TOPICS: tuple[Topic, ...] = topics_consumed_by(Node.SINK_CLICKHOUSE)
"""What the ClickHouse sink consumes, as the topic registry says."""


def write_batch(client: Client, db: str, records: Sequence[Record],
                keys: PersonKeys | None = None) -> dict[str, int]:
    """Write a decoded batch, each event id and fact version once, each person's newest
    profile of the batch, then finish its erasures (`finish_erasures`); the rows per table.

    Safe to call again with the same or overlapping records (a replay, a retry after a
    partial write): what ClickHouse already holds is looked up and left out.
    """
    events = [r for r in records if isinstance(r, CanonicalEvent)]
    facts = [r for r in records if isinstance(r, PlayerDayFact)]
    known = query_known_events(
        client, db, {e.brand_id for e in events}, {e.event_id for e in events}
    )
    stored = query_stored_facts(client, db, {f.person_id for f in facts})
    batches = (
        ("events", EVENT_COLUMNS, [event_row(e) for e in new_events(events, known)]),
        ("fact_rows", FACT_ROW_COLUMNS, fact_rows(facts, stored)[0]),
        ("attributions", ATTRIBUTION_COLUMNS,
         [attribution_row(r) for r in records if isinstance(r, Attribution)]),
        ("delivery_attempts", ATTEMPT_COLUMNS,
         [attempt_row(r) for r in records if isinstance(r, DeliveryAttempt)]),
        ("player_profile_rows", PROFILE_ROW_COLUMNS,
         [profile_row(p) for p in newest_profiles(
             r for r in records if isinstance(r, PlayerProfile))]),
        ("commission_ledger", LEDGER_COLUMNS,
         ledger_rows(r for r in records if isinstance(r, LedgerEntry))),
        ("affiliate_player_status", STATUS_COLUMNS,
         status_rows(r for r in records if isinstance(r, AffiliatePlayerStatus))),
        ("identity_links", LINK_COLUMNS,
         link_rows(r for r in records if isinstance(r, IdentityLink))),
        ("identity_person_changes", PERSON_CHANGE_COLUMNS,
         person_change_rows(r for r in records if isinstance(r, PersonChange))),
        ("identity_signals", SIGNAL_COLUMNS,
         signal_rows(r for r in records if isinstance(r, MultiAccountSignal))),
        ("identity_touchpoints", IDENTITY_TOUCHPOINT_COLUMNS,
         identity_touchpoint_rows(r for r in records if isinstance(r, TouchpointLink))),
    )
    written: dict[str, int] = {}
    for table, names, rows in batches:
        if rows:
            if written:  # a batch half written: some tables' inserts landed, this one's not
                fault_point("sink.mid_insert")
            client.insert(
                f"{db}.{table}", columns(rows, len(names)), column_names=names,
                column_oriented=True,
            )
            fault_point(f"sink.after_insert.{table}")
            written[table] = len(rows)
    done = finish_erasures(client, db, [r for r in records if isinstance(r, Erasure)], keys)
    if done:
        written["erasure_certificates"] = done
    return written


def finish_erasures(client: Client, db: str, erased: Sequence[Erasure],
                    keys: PersonKeys | None) -> int:
    """What the identity stage leaves to the sink of each erasure (docs/privacy.md#erasure):
    destroy the account's key, anonymise its rows, write its certificate; the certificates
    written. After the rows of the batch, so an event of the same batch is anonymised too; a
    replay finds the certificate and does nothing again (the key store's destroy and the
    mutations are idempotent as well, for a kill between them)."""
    if not erased:
        return 0
    have = erasing.certified(client, db, list(erased))
    count = 0
    for erasure in {e.account: e for e in erased}.values():
        if erasure.account in have:
            continue
        if keys is None:
            raise SinkWriteError("an erasure needs the key store (CLICKPATH_DATA_DIR)")
        shredding = keys.destroy(erasure.account, at=utcnow(), request_id=erasure.request_id)
        fault_point("sink.erasure.key_destroyed")
        rows = erasing.anonymise(client, db, erasure)
        fault_point("sink.erasure.anonymised")
        erasing.write_certificate(client, db, erasure, shredding, rows, utcnow())
        count += 1
    return count


class ClickHouseSink(BatchSink):
    stage = "clickhouse"
    topics = TOPICS
    batch_rows = 10_000
    batch_seconds = 1.0

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.db = settings.clickhouse_database
        self.client = connect(settings)
        self.lock = threading.Lock()  # ingestion's: the writes
        self.keys = PersonKeys.from_settings(settings)  # erasures destroy keys here
        with self.lock:
            self.prepared = prepare(self.client, self.db, settings.clickhouse_dsn)

    def write(self, records: Sequence[tuple[Message, Record]]) -> None:
        try:
            with self.lock:
                written = write_batch(self.client, self.db, [r for _, r in records], self.keys)
        except Exception as e:  # the driver raises many types; all mean "not written"
            if is_unwritable(e):  # the values: bisected, the rows at fault dead-lettered
                raise UnwritableError(redact(f"ClickHouse refused the values: {e}")) from e
            raise SinkWriteError(redact(f"ClickHouse insert failed: {e}")) from e
        for table, count in written.items():
            CLICKHOUSE_ROWS.labels(table).inc(count)
        for _, record in records:
            if isinstance(record, CanonicalEvent):  # from receipt (else from processing)
                observe_event_latency("clickhouse", record.received_at or record.processed_at)

    def unwritable(self, record: Record) -> str | None:
        return unwritable_reason(record)

    def close(self) -> None:
        with self.lock:
            self.client.close()
        self.keys.close()
