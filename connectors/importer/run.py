"""One real import of a file: validate, route, send, and checkpoint after each acked batch.

A door like the event API: every record goes through `parse_event` (the same validation, the
same pseudonyms, so no raw e-mail, phone or IP is produced), then through `EventProducer` to the
topic and key the agents expect. What it must never do: send an event an earlier run delivered,
or record a line as done before the broker acknowledged it. So each batch is flushed (acks=all)
before the ledger and then the checkpoint advance (`state.py`), and a run that died is
reconciled with the topics (`reconcile.py`) before the next one sends anything.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException, Message

from clickpath.connectors.importer.dry_run import DryRun
from clickpath.connectors.importer.files import SourceRecord, read_records
from clickpath.connectors.importer.options import ExitCode, ImportFailed, ImportOptions, ImportResult, Status
from clickpath.connectors.importer.progress import NullProgress, Progress, progress_detail
from clickpath.connectors.importer.reconcile import INGRESS_TOPICS, delivered_event_ids, end_offsets
from clickpath.connectors.importer.records import Validator
from clickpath.connectors.importer.rejects import RejectsReport, ReportInTheWay
from clickpath.connectors.importer.state import (
    Checkpoint,
    CheckpointStore,
    Counts,
    ImportLocked,
    Ledger,
    Outcome,
    Positions,
    checkpoint_key,
    classify,
    fingerprint,
    target_of,
)
from clickpath.connectors.ingress import Rejection
from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import topic_name
from clickpath.infra.kafka import BrokerUnavailable, create_topics, probe_broker
from clickpath.infra.person_keys import PersonKeys
from clickpath.infra.producer import EventProducer, NotAcknowledged
from clickpath.infra.sealed_events import carries_personal, seal_events
from clickpath.settings import Settings


def run_import(
    settings: Settings,
    options: ImportOptions,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> ImportResult:
    """Import (or with `dry_run`, only validate) one file; raises ImportFailed if it cannot start."""
    progress = progress or NullProgress()
    stop = stop or threading.Event()
    path = options.path
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file", ExitCode.USAGE)
    size = path.stat().st_size
    progress.phase(f"fingerprinting {path.name}", size)
    identity = fingerprint(path, progress.advance_to)
    target = target_of(settings)
    store = CheckpointStore(settings.data_dir / "imports")
    if options.dry_run:
        return DryRun(settings, options, identity, target, store, progress, stop).execute()
    if target is None:
        raise ImportFailed(
            "no broker: no `clickpath up` is running (none found from here) and"
            " CLICKPATH_KAFKA_BOOTSTRAP_SERVERS is unset; start `clickpath up`, or set it to your"
            " Kafka cluster",
            ExitCode.BROKER,
        )
    key = checkpoint_key(identity, target, options.brand, options.format)
    try:
        with store.lock(key):
            checkpoint = store.load(key)
            notes: list[str] = []
            if checkpoint is None:
                earlier = store.earlier_versions(path, target, identity)
                if earlier:
                    notes.append(
                        f"{path.name} changed since it was imported on"
                        f" {earlier[-1].updated_at:%Y-%m-%d %H:%M} UTC (size or content differs):"
                        " importing it as a new file; events an earlier"
                        " import delivered count as duplicates."
                    )
                checkpoint = Checkpoint.new(
                    key,
                    path,
                    identity,
                    options.format,
                    target,
                    options.brand,
                    options.source,
                    options.rejects,
                )
            elif checkpoint.complete:
                return _result_of(checkpoint, "already_complete", store, notes)
            elif checkpoint.line:
                notes.append(f"resuming after line {checkpoint.line:,}, where an earlier run stopped.")
            return _Run(settings, options, checkpoint, store, progress, stop, notes).execute()
    except ImportLocked as e:
        raise ImportFailed(f"{e}; wait for it to finish", ExitCode.USAGE) from None


def _result_of(cp: Checkpoint, status: Status, store: CheckpointStore, notes: list[str]) -> ImportResult:
    return ImportResult(
        status=status,
        path=Path(cp.file),
        format=cp.format,
        totals=cp.counts,
        line=cp.line,
        rejects_path=Path(cp.rejects_file),
        checkpoint_path=store.path(cp.key),
        notes=notes,
        finished_at=f"{cp.updated_at:%Y-%m-%d %H:%M} UTC",
    )


class _Run:
    """One run of a real import: validate, route, send, and checkpoint after each acked batch."""

    def __init__(
        self,
        settings: Settings,
        options: ImportOptions,
        checkpoint: Checkpoint,
        store: CheckpointStore,
        progress: Progress,
        stop: threading.Event,
        notes: list[str],
    ) -> None:
        self.settings = settings
        self.options = options
        self.cp = checkpoint
        self.store = store
        self.progress = progress
        self.stop = stop
        self.notes = notes
        self.validator = Validator(settings, options)
        self.person_keys = PersonKeys.from_settings(settings)
        self.topics = [topic_name(settings, t) for t in INGRESS_TOPICS]
        self.run_counts = Counts()
        # The unacknowledged batch.
        self.delta = Counts()
        self.batch_keys: dict[tuple[str, str], int] = {}
        self.batch_lines = 0
        self.sent_in_batch = 0
        self.next_commit = 0.0
        self.positions: Positions = {}
        self.recovered: set[tuple[str, str]] = set()
        self.sent = 0
        self.pace_started = time.monotonic()
        self.loop_s = 0.0

    def execute(self) -> ImportResult:
        codec = build_codec(self.settings.schemas_dir, self.settings.schema_registry_url)
        # The report stays where the first run put it, whatever a resuming run's --rejects says;
        # checked before anything is sent, so a file in its way stops the import at once.
        try:
            self.rejects = RejectsReport(
                Path(self.cp.rejects_file), self.cp.rejects_size, self.store.reports_directory
            )
        except ReportInTheWay as e:
            raise ImportFailed(str(e), ExitCode.USAGE) from None
        try:
            self._connect()
        except BaseException:
            self.rejects.close()
            raise
        if not self.cp.clean:
            self.progress.phase("checking the topics for an interrupted run's records", 1)
            self.recovered = _with_broker(
                delivered_event_ids, self.settings, codec, self.topics, self.cp.positions
            )
        self.positions = _with_broker(end_offsets, self.settings, self.topics)
        self.cp = self.cp.begin(self.options.batch_lines, _copy(self.positions))
        self.store.save(self.cp)  # unclean from here until the run ends well
        self.ledger = Ledger.open(self.store.directory, self.cp.target, self.cp.key)
        # Batch records (the default): one acknowledgement covers many events; `_delivered`
        # only reads its partition and offset, so it counts nothing per event.
        kafka: dict[str, Any] = {"message.timeout.ms": int(self.options.ack_timeout_s * 1000)}
        producer = EventProducer(self.settings, codec, on_acked=self._delivered, **kafka)
        status: Status = "complete"
        error = None
        try:
            status = self._loop(producer)
        except NotAcknowledged as e:
            status, error = "broker_failed", str(e)
        finally:
            self.loop_s = time.monotonic() - self.pace_started
            self.rejects.close()
            self.ledger.close()
        if status != "broker_failed":
            self.cp = self.cp.finish(complete=status == "complete")
            self.store.save(self.cp)
        result = _result_of(self.cp, status, self.store, self.notes)
        result.run, result.error, result.elapsed_s = self.run_counts, error, self.loop_s
        if self.run_counts.recovered:
            self.notes.append(
                f"{self.run_counts.recovered:,} events an interrupted run had delivered were found on the"
                " topics and not sent again."
            )
        return result

    def _connect(self) -> None:
        try:
            probe_broker(self.settings)  # a wrong address: one line within a second, no log spam
        except BrokerUnavailable as e:
            raise ImportFailed(f"{e}; nothing was sent", ExitCode.BROKER) from None
        try:
            create_topics(self.settings)
        except (BrokerUnavailable, KafkaException) as e:
            raise ImportFailed(
                f"cannot reach Kafka at {self.settings.kafka_bootstrap_servers}: {e}; nothing was sent",
                ExitCode.BROKER,
            ) from None
        except RuntimeError as e:  # a topic with another partition count than the settings say
            raise ImportFailed(f"{e}; nothing was sent", ExitCode.USAGE) from None

    def _loop(self, producer: EventProducer) -> Status:
        self.progress.phase(f"importing {self.options.path.name}", self.cp.size, self.cp.offset)
        self.pace_started = time.monotonic()
        self.next_commit = time.monotonic() + self.options.commit_every_s
        last: SourceRecord | None = None
        with self.options.path.open("rb") as f:
            records = read_records(
                f,
                self.options.format,
                start_line=self.cp.line,
                start_offset=self.cp.offset,
                size=self.cp.size,
            )
            for record in records:
                if self.stop.is_set():
                    break
                self._handle(record, producer)
                last = record
                self.batch_lines += 1
                if self.batch_lines >= self.options.batch_lines or time.monotonic() >= self.next_commit:
                    self._commit(producer, record)
                elif self.batch_lines % 500 == 0:
                    self._show(record)
            else:
                self._commit(producer, last)
                return "complete"
        self._commit(producer, last)
        return "interrupted"

    def _handle(self, record: SourceRecord, producer: EventProducer) -> None:
        if record.blank:
            return
        try:
            event = self.validator.event(record)
        except Rejection as rejection:
            self.rejects.write(record, rejection)
            self.delta.rejected += 1
            return
        key = (event.brand_id, event.event_id)
        in_batch = key in self.batch_keys
        outcome = classify(
            key,
            in_batch=in_batch,
            entry=None if in_batch else self.ledger.lookup(*key),
            committed_line=self.cp.line,
            on_topics=key in self.recovered and self.cp.recovering(record.line),
        )
        if outcome is Outcome.SEND:
            self._pace()
            if carries_personal([event]):  # sealed under the player's key, as at every door
                [event] = seal_events([event], self.person_keys)
            producer.send(event)
            self.sent_in_batch += 1
            self.sent += 1
        elif outcome is Outcome.RECOVERED:
            self.delta.recovered += 1
        elif outcome is Outcome.DUPLICATE_IN_FILE:
            self.delta.duplicates_in_file += 1
            return
        else:
            self.delta.duplicates_earlier += 1
            return
        self.delta.imported += 1
        self.batch_keys[key] = record.line

    def _pace(self) -> None:
        """`--rate`: keep replayed history from swamping the live pipeline's workers."""
        if self.options.rate:
            ahead = self.pace_started + self.sent / self.options.rate - time.monotonic()
            if ahead > 0.005:
                time.sleep(ahead)

    def _commit(self, producer: EventProducer, last: SourceRecord | None) -> None:
        """Flush (raises NotAcknowledged), then the ledger, then the checkpoint: in that order."""
        if last is None:
            return
        if self.sent_in_batch:
            producer.flush(self.options.ack_timeout_s + 5)
        rejects_size = self.rejects.size()
        self.ledger.add((brand, event_id, line) for (brand, event_id), line in self.batch_keys.items())
        self.cp = self.cp.advance(last.line, last.end, self.delta, _copy(self.positions), rejects_size)
        self.store.save(self.cp)
        self.run_counts = self.run_counts + self.delta
        self.delta = Counts()
        self.batch_keys.clear()
        self.batch_lines = self.sent_in_batch = 0
        self.next_commit = time.monotonic() + self.options.commit_every_s
        self._show(last)

    def _show(self, record: SourceRecord) -> None:
        self.progress.advance_to(record.end, progress_detail(record.line, self.cp.counts + self.delta))

    def _delivered(self, msg: Message) -> None:
        partitions = self.positions.setdefault(msg.topic() or "", {})
        offset = (msg.offset() or 0) + 1
        if offset > partitions.get(msg.partition() or 0, 0):
            partitions[msg.partition() or 0] = offset


def _copy(positions: Positions) -> Positions:
    return {topic: dict(partitions) for topic, partitions in positions.items()}


def _with_broker(fn: Any, *args: Any) -> Any:
    """Reconciliation reads the broker before anything is sent: a failure there says so."""
    try:
        return fn(*args)
    except (BrokerUnavailable, KafkaException) as e:
        raise ImportFailed(
            f"Kafka at {args[0].kafka_bootstrap_servers}: {e}; nothing was sent", ExitCode.BROKER
        ) from None
