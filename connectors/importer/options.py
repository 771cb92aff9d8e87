"""What `clickpath import` is asked to do, what it answers, and the exit codes scripts rely on."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Literal

from clickpath.connectors.importer.files import Format
from clickpath.connectors.importer.state import Counts

Status = Literal["complete", "already_complete", "interrupted", "broker_failed", "dry_run"]


class ExitCode(IntEnum):
    """Exit codes, for operators who script imports (docs/import.md, 'Exit codes')."""

    OK = 0
    """Every record imported or a duplicate (also: already imported, nothing to do)."""
    REJECTED = 1
    """Finished, but some records were rejected: fix them from the report."""
    USAGE = 2
    """Could not start: no such file, unknown format, bad CSV header, bad settings."""
    BROKER = 3
    """Kafka unreachable or did not acknowledge: run the same command again."""
    INTERRUPTED = 130
    """Ctrl-C (143: SIGTERM) after saving the checkpoint: run it again."""


class ImportFailed(RuntimeError):
    """The import could not start or go on; `exit_code` says which kind of failure."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
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
    def exit_code(self) -> ExitCode:
        if self.status == "broker_failed":
            return ExitCode.BROKER
        if self.status == "interrupted":
            return ExitCode.INTERRUPTED
        return ExitCode.REJECTED if self.totals.rejected else ExitCode.OK
