"""What an operator sees of `clickpath import`: the progress bar on stderr, then the summary
(text, or one JSON line for scripts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from clickpath.connectors.importer.options import ImportResult
from clickpath.connectors.importer.state import Counts

SHOWN_REJECTIONS = 20


class Progress(Protocol):
    """Where a run reports how far it got; the run itself never knows whether anyone watches."""

    def phase(self, description: str, total: int, completed: int = 0) -> None: ...
    def advance_to(self, completed: int, detail: str = "") -> None: ...
    def close(self) -> None: ...


class NullProgress:
    """For --json and for output that is not a terminal: scripts get the summary only."""

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


def progress_detail(line: int, counts: Counts) -> str:
    """The bar's text: where the run is and what it decided so far."""
    return (
        f"line {line:,} · {counts.imported:,} imported · {counts.duplicates:,} duplicates"
        f" · {counts.rejected:,} rejected"
    )


def first_rejections(path: Path | None, limit: int = SHOWN_REJECTIONS) -> list[dict[str, Any]]:
    """The report's first entries, enough to see what is wrong without opening it."""
    if path is None or not path.exists():
        return []
    shown: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for text in f:
            if len(shown) >= limit:
                break
            shown.append(json.loads(text))
    return shown


def render_summary(result: ImportResult, rejections: list[dict[str, Any]]) -> str:
    """The text summary: a headline that says what to do next, then the counts."""
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
    """`--json`: the same facts as the text summary, for scripts."""
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
        "exit_code": int(result.exit_code),
    }
