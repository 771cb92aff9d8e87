"""`clickpath import FILE`: replay an operator's history (JSONL or CSV) into the ingress topics.

A door like the event API: every record goes through `parse_event` (the same validation, the
same pseudonyms, so no raw e-mail, phone or IP is produced), then through `EventProducer` to the
topic and key the agents expect. What it must never do: send an event an earlier run delivered,
or record a line as done before the broker acknowledged it. So each batch is flushed (acks=all)
before the ledger and then the checkpoint advance (`connectors/import_state.py`), and a run that
died is reconciled with the topics before the next one sends anything.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from clickpath.connectors.import_files import FileFormatError, Format, SourceRecord, read_records
from clickpath.connectors.import_state import (
    Checkpoint,
    CheckpointStore,
    Counts,
    FileIdentity,
    ImportLocked,
    Ledger,
    Outcome,
    Positions,
    checkpoint_key,
    classify,
    fingerprint,
    target_of,
)
from clickpath.connectors.ingress import Rejection, parse_event
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from clickpath.contracts.models import IngressEvent
from clickpath.contracts.serde import Codec, DecodeError, build_codec
from clickpath.contracts.topics import Topic, topic_name
from clickpath.infra.kafka import BrokerUnavailable, consumer_config, create_topics, wait_for_broker
from clickpath.infra.producer import DeliveryFailed, EventProducer
from clickpath.settings import Settings

# Exit codes, for operators who script imports (README "Import history").
EXIT_OK = 0  # every record imported or a duplicate (also: already imported, nothing to do)
EXIT_REJECTED = 1  # finished, but some records were rejected: fix them from the report
EXIT_USAGE = 2  # could not start: no such file, unknown format, bad CSV header, bad settings
EXIT_BROKER = 3  # Kafka unreachable or did not acknowledge: run the same command again
EXIT_INTERRUPTED = 130  # Ctrl-C (143: SIGTERM) after saving the checkpoint: run it again

SHOWN_REJECTIONS = 20
# The topics an ingress event can be routed to; a crashed run's records are looked for there.
INGRESS_TOPICS = tuple(t for t in Topic if t.value.startswith("ingress."))

Status = Literal["complete", "already_complete", "interrupted", "broker_failed", "dry_run"]


class ImportFailed(RuntimeError):
    """The import could not start or go on; `exit_code` says which kind of failure."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class ImportOptions:
    path: Path
    format: Format
    brand: str | None = None
    source: str = "import"
    dry_run: bool = False
    rejects_path: Path | None = None
    batch_lines: int = 10_000
    commit_every_s: float = 2.0
    rate: float | None = None
    ack_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.batch_lines < 1:
            raise ValueError("--batch must be at least 1")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("--rate must be more than 0")
        if self.ack_timeout_s <= 0:
            raise ValueError("--ack-timeout must be more than 0")

    @property
    def rejects(self) -> Path:
        """Next to the file by default: the operator's side, where the raw data already is."""
        return self.rejects_path or self.path.with_name(self.path.name + ".rejected.jsonl")


@dataclass
class ImportResult:
    status: Status
    path: Path
    format: str
    totals: Counts
    run: Counts = field(default_factory=Counts)
    line: int = 0
    rejects_path: Path | None = None
    checkpoint_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    elapsed_s: float = 0.0
    finished_at: str | None = None

    @property
    def exit_code(self) -> int:
        if self.status == "broker_failed":
            return EXIT_BROKER
        if self.status == "interrupted":
            return EXIT_INTERRUPTED
        return EXIT_REJECTED if self.totals.rejected else EXIT_OK


class Progress(Protocol):
    def phase(self, description: str, total: int, completed: int = 0) -> None: ...
    def advance_to(self, completed: int, detail: str = "") -> None: ...
    def close(self) -> None: ...


class NullProgress:
    def phase(self, description: str, total: int, completed: int = 0) -> None:
        pass

    def advance_to(self, completed: int, detail: str = "") -> None:
        pass

    def close(self) -> None:
        pass


class RichProgress:
    """A bar over the file's bytes, with lines and outcomes so far, on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichBar

        self._bar = RichBar(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[detail]}"),
            console=Console(stderr=True),
        )
        self._task: Any = None
        self._bar.start()

    def phase(self, description: str, total: int, completed: int = 0) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(description, total=max(total, 1), completed=completed, detail="")

    def advance_to(self, completed: int, detail: str = "") -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=completed, detail=detail)

    def close(self) -> None:
        self._bar.stop()


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
        raise ImportFailed(f"{path}: no such file", EXIT_USAGE)
    size = path.stat().st_size
    progress.phase(f"fingerprinting {path.name}", size)
    identity = fingerprint(path, progress.advance_to)
    target = target_of(settings)
    store = CheckpointStore(settings.data_dir / "imports")
    if options.dry_run:
        return _DryRun(settings, options, identity, target, store, progress, stop).execute()
    if target is None:
        raise ImportFailed(
            "no broker configured: set CLICKPATH_KAFKA_BOOTSTRAP_SERVERS (for `clickpath up`, the"
            " Kafka address it printed)",
            EXIT_BROKER,
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
        raise ImportFailed(f"{e}; wait for it to finish", EXIT_USAGE) from None


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


class _Validator:
    """SourceRecord -> event, or the Rejection, with `--brand` applied like an operator key's."""

    def __init__(self, settings: Settings, options: ImportOptions) -> None:
        self._key = settings.pseudonym_key.get_secret_value().encode()
        self._brand = options.brand
        self._source = options.source

    def event(self, record: SourceRecord) -> IngressEvent:
        if record.rejection is not None:
            raise record.rejection
        data = record.data
        # Checked here rather than left to parse_event, whose reason speaks of an API key.
        if (
            self._brand is not None
            and isinstance(data, dict)
            and data.get("brand_id") not in (None, self._brand)
        ):
            raise Rejection(
                "brand_id", f"is {data['brand_id']!r}, but this import is for --brand {self._brand!r}"
            )
        return parse_event(data, pseudonym_key=self._key, brand_id=self._brand, source=self._source)


class _RejectsReport:
    """`<file>.rejected.jsonl`: one JSON line per rejected record; opened on the first one."""

    def __init__(self, path: Path, keep_bytes: int) -> None:
        self.path = path
        self._file: IO[str] | None = None
        # Lines written past the checkpoint by a run that stopped are written again: drop them.
        if path.exists():
            if keep_bytes:
                with path.open("r+b") as f:
                    f.truncate(keep_bytes)
            else:
                path.unlink()

    def write(self, record: SourceRecord, rejection: Rejection) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        entry: dict[str, Any] = {"line": record.line, "field": rejection.field, "reason": rejection.reason}
        if isinstance(record.data, dict) and isinstance(record.data.get("event_id"), str):
            entry["event_id"] = record.data["event_id"]
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def size(self) -> int:
        if self._file is not None:
            self._file.flush()
        return self.path.stat().st_size if self.path.exists() else 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


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
        self.validator = _Validator(settings, options)
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
        self._connect()
        if not self.cp.clean:
            self.progress.phase("checking the topics for an interrupted run's records", 1)
            self.recovered = _with_broker(
                delivered_event_ids, self.settings, codec, self.topics, self.cp.positions
            )
        self.positions = _with_broker(end_offsets, self.settings, self.topics)
        self.cp = self.cp.begin(self.options.batch_lines, _copy(self.positions))
        self.store.save(self.cp)  # unclean from here until the run ends well
        self.ledger = Ledger.open(self.store.directory, self.cp.target, self.cp.key)
        # The report stays where the first run put it, whatever a resuming run's --rejects says.
        self.rejects = _RejectsReport(Path(self.cp.rejects_file), self.cp.rejects_size)
        producer = EventProducer(
            self.settings,
            codec,
            on_delivered=self._delivered,
            **{"message.timeout.ms": int(self.options.ack_timeout_s * 1000)},
        )
        status: Status = "complete"
        error = None
        try:
            status = self._loop(producer)
        except DeliveryFailed as e:
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
            wait_for_broker(self.settings, timeout_s=10)
            create_topics(self.settings)
        except (BrokerUnavailable, KafkaException) as e:
            raise ImportFailed(
                f"cannot reach Kafka at {self.settings.kafka_bootstrap_servers}: {e}; nothing was sent",
                EXIT_BROKER,
            ) from None
        except RuntimeError as e:  # a topic with another partition count than the settings say
            raise ImportFailed(f"{e}; nothing was sent", EXIT_USAGE) from None

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
        """Flush (raises DeliveryFailed), then the ledger, then the checkpoint: in that order."""
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
        self.progress.advance_to(record.end, _detail(record.line, self.cp.counts + self.delta))

    def _delivered(self, msg: Message) -> None:
        partitions = self.positions.setdefault(msg.topic() or "", {})
        offset = (msg.offset() or 0) + 1
        if offset > partitions.get(msg.partition() or 0, 0):
            partitions[msg.partition() or 0] = offset


class _DryRun:
    """Validate the whole file and count what a real import would do; send and store nothing."""

    def __init__(
        self,
        settings: Settings,
        options: ImportOptions,
        identity: FileIdentity,
        target: str | None,
        store: CheckpointStore,
        progress: Progress,
        stop: threading.Event,
    ) -> None:
        self.options = options
        self.identity = identity
        self.progress = progress
        self.stop = stop
        self.validator = _Validator(settings, options)
        key = checkpoint_key(identity, target, options.brand, options.format) if target else ""
        self.ledger = Ledger.open_readonly(store.directory, target, key) if target else None

    def execute(self) -> ImportResult:
        started = time.monotonic()
        counts = Counts()
        seen: set[tuple[str, str]] = set()
        rejects = _RejectsReport(self.options.rejects, 0)
        status: Status = "dry_run"
        line = 0
        self.progress.phase(f"checking {self.options.path.name}", self.identity.size)
        try:
            for record in self._records():
                if self.stop.is_set():
                    status = "interrupted"
                    break
                line = record.line
                if record.line % 500 == 0:
                    self.progress.advance_to(record.end, _detail(record.line, counts))
                if record.blank:
                    continue
                try:
                    event = self.validator.event(record)
                except Rejection as rejection:
                    rejects.write(record, rejection)
                    counts.rejected += 1
                    continue
                key = (event.brand_id, event.event_id)
                if key in seen:
                    counts.duplicates_in_file += 1
                elif self.ledger is not None and self.ledger.lookup(*key) is not None:
                    counts.duplicates_earlier += 1
                else:
                    seen.add(key)
                    counts.imported += 1
        finally:
            rejects.close()
            if self.ledger is not None:
                self.ledger.close()
        notes = (
            []
            if self.ledger is not None
            else ["no import ledger for this cluster yet: duplicates are counted within the file only."]
        )
        return ImportResult(
            status=status,
            path=self.options.path,
            format=self.options.format,
            totals=counts,
            run=counts,
            line=line,
            rejects_path=self.options.rejects if counts.rejected else None,
            notes=notes,
            elapsed_s=time.monotonic() - started,
        )

    def _records(self) -> Iterator[SourceRecord]:
        with self.options.path.open("rb") as f:
            yield from read_records(f, self.options.format, size=self.identity.size)


def _detail(line: int, counts: Counts) -> str:
    return (
        f"line {line:,} · {counts.imported:,} imported · {counts.duplicates:,} duplicates"
        f" · {counts.rejected:,} rejected"
    )


def _copy(positions: Positions) -> Positions:
    return {topic: dict(partitions) for topic, partitions in positions.items()}


def _with_broker(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except (BrokerUnavailable, KafkaException) as e:
        raise ImportFailed(
            f"Kafka at {args[0].kafka_bootstrap_servers}: {e}; nothing was sent", EXIT_BROKER
        ) from None


def end_offsets(settings: Settings, topics: list[str]) -> Positions:
    """Each partition's end, where this run's records will start.

    On the embedded broker the listed end can be short of the real one (PLATFORM.md): short is
    safe here, it only means reading a little more after a crash.
    """
    consumer = Consumer(consumer_config(settings, f"import-offsets-{uuid.uuid4().hex[:8]}"))
    try:
        metadata = consumer.list_topics(timeout=10)
        positions: Positions = {}
        for topic in topics:
            if topic not in metadata.topics:
                continue
            for partition in metadata.topics[topic].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                positions.setdefault(topic, {})[partition] = max(high, 0)
        return positions
    finally:
        consumer.close()


def delivered_event_ids(
    settings: Settings,
    codec: Codec,
    topics: list[str],
    positions: Positions,
    timeout_s: float = 120,
) -> set[tuple[str, str]]:
    """(brand_id, event_id) of every ingress event from `positions` to the end of each partition.

    What a crashed run delivered but never recorded is among these; so are other producers'
    events, which the caller only consults for the crashed run's lines.
    """
    consumer = Consumer(
        consumer_config(settings, f"import-check-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": True})
    )
    found: set[tuple[str, str]] = set()
    try:
        metadata = consumer.list_topics(timeout=10)
        assignment = [
            TopicPartition(topic, partition, positions.get(topic, {}).get(partition, OFFSET_BEGINNING))
            for topic in topics
            if topic in metadata.topics
            for partition in metadata.topics[topic].partitions
        ]
        consumer.assign(assignment)
        waiting = {(tp.topic, tp.partition) for tp in assignment}
        deadline = time.monotonic() + timeout_s
        while waiting:
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"could not read to the end of {sorted(waiting)} in {timeout_s:.0f}s")
            for msg in consumer.consume(1000, timeout=0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        waiting.discard((msg.topic(), msg.partition()))
                    continue
                try:
                    record = codec.decode(msg.value())
                except DecodeError:
                    continue  # not ours to judge: the validate stage dead-letters it
                if isinstance(record, IngressEvent):
                    found.add((record.brand_id, record.event_id))
    finally:
        consumer.close()
    return found


# --- presentation ----------------------------------------------------------------------------


def first_rejections(path: Path | None, limit: int = SHOWN_REJECTIONS) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    shown = []
    with path.open(encoding="utf-8") as f:
        for text in f:
            if len(shown) >= limit:
                break
            shown.append(json.loads(text))
    return shown


def render_summary(result: ImportResult, rejections: list[dict[str, Any]]) -> str:
    name, t = result.path.name, result.totals
    headline = {
        "complete": f"Imported {name}: done.",
        "already_complete": f"{name} was already imported ({result.finished_at}): nothing to do.",
        "interrupted": f"Stopped after line {result.line:,} of {name}; everything up to it is acknowledged."
        " Run the same command again to continue.",
        "broker_failed": f"Kafka did not acknowledge records of {name} ({result.error}). Everything up"
        f" to line {result.line:,} is acknowledged; run the same command again to continue: it first"
        " looks on the topics for what the unconfirmed batch delivered, so nothing is sent twice.",
        "dry_run": f"Dry run of {name}: nothing was sent.",
    }[result.status]
    verb = "would import" if result.status == "dry_run" else "imported"
    lines = [headline, *(f"  note: {note}" for note in result.notes)]
    imported = f"  {verb:<12} {t.imported:,}"
    if result.status not in ("already_complete", "dry_run") and result.run.records != t.records:
        imported += f"  (this run {result.run.imported:,})"
    if result.run.records >= 1000 and result.elapsed_s > 0:
        imported += f"  [{result.run.records / result.elapsed_s:,.0f} records/s]"
    lines += [
        imported,
        f"  {'duplicates':<12} {t.duplicates:,}  ({t.duplicates_in_file:,} repeated in this file,"
        f" {t.duplicates_earlier:,} delivered by an earlier import)",
        f"  {'rejected':<12} {t.rejected:,}"
        + (f"  (all of them in {_shown(result.rejects_path)})" if t.rejected else ""),
    ]
    for entry in rejections:
        lines.append(f"    line {entry['line']}: {entry['field'] or 'record'}: {entry['reason']}")
    if t.rejected > len(rejections):
        lines.append(f"    … {t.rejected - len(rejections):,} more in the report")
    if result.checkpoint_path is not None:
        lines.append(f"  {'checkpoint':<12} {_shown(result.checkpoint_path)}")
    return "\n".join(lines)


def _shown(path: Path | None) -> str:
    """Relative to the working directory when under it, as the operator typed it."""
    if path is None:
        return ""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def summary_json(result: ImportResult) -> dict[str, Any]:
    t = result.totals
    return {
        "status": result.status,
        "file": str(result.path),
        "format": result.format,
        "line": result.line,
        "records": t.records,
        "imported": t.imported,
        "duplicates": t.duplicates,
        "duplicates_in_file": t.duplicates_in_file,
        "duplicates_earlier": t.duplicates_earlier,
        "rejected": t.rejected,
        "recovered": t.recovered,
        "this_run": result.run.model_dump(),
        "rejects_file": str(result.rejects_path) if t.rejected and result.rejects_path else None,
        "checkpoint": str(result.checkpoint_path) if result.checkpoint_path else None,
        "records_per_s": round(result.run.records / result.elapsed_s) if result.elapsed_s else None,
        "notes": result.notes,
        "error": result.error,
        "exit_code": result.exit_code,
    }


def run_cli(settings: Settings, options: ImportOptions, *, as_json: bool = False) -> int:
    """`clickpath import`: signals, progress bar and summary around `run_import`; the exit code."""
    stop = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without the last flush
        signals.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    progress: Progress = NullProgress() if as_json or not sys.stderr.isatty() else RichProgress()
    try:
        result = run_import(settings, options, progress=progress, stop=stop)
    except ImportFailed as e:
        progress.close()
        print(f"clickpath import: {e}", file=sys.stderr)
        return e.exit_code
    except FileFormatError as e:
        progress.close()
        print(f"clickpath import: {options.path}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # the file or the report could not be read or written
        progress.close()
        print(f"clickpath import: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        progress.close()
        print(
            "clickpath import: stopped at once; the last batch was not confirmed. Run the same command"
            " again: it checks the topics for that batch and continues.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    progress.close()
    if as_json:
        print(json.dumps(summary_json(result)))
    else:
        print(
            render_summary(result, first_rejections(result.rejects_path if result.totals.rejected else None))
        )
    if result.status == "interrupted" and signals and signals[0] == signal.SIGTERM:
        return 128 + signal.SIGTERM
    return result.exit_code
