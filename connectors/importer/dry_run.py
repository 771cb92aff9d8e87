"""`clickpath import --dry-run`: validate the whole file and count what a real import would do.

Nothing is sent and nothing stored but the rejects report; duplicates are looked up read-only
in the ledger of earlier imports to the same cluster, when there is one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from clickpath.connectors.importer.files import SourceRecord, read_records
from clickpath.connectors.importer.options import ExitCode, ImportFailed, ImportOptions, ImportResult, Status
from clickpath.connectors.importer.progress import Progress, progress_detail
from clickpath.connectors.importer.records import Validator
from clickpath.connectors.importer.rejects import RejectsReport, ReportInTheWay
from clickpath.connectors.importer.state import CheckpointStore, Counts, FileIdentity, Ledger, checkpoint_key
from clickpath.connectors.ingress import Rejection
from clickpath.settings import Settings


class DryRun:
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
        self.validator = Validator(settings, options)
        key = checkpoint_key(identity, target, options.brand, options.format) if target else ""
        self.ledger = Ledger.open_readonly(store.directory, target, key) if target else None
        self.reports = store.reports_directory

    def execute(self) -> ImportResult:
        started = time.monotonic()
        counts = Counts()
        seen: set[tuple[str, str]] = set()
        try:
            rejects = RejectsReport(self.options.rejects, 0, self.reports)
        except ReportInTheWay as e:
            if self.ledger is not None:
                self.ledger.close()
            raise ImportFailed(str(e), ExitCode.USAGE) from None
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
                    self.progress.advance_to(record.end, progress_detail(record.line, counts))
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
