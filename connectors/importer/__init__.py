"""`clickpath import FILE`: replay an operator's history (JSONL or CSV) into the ingress topics.

One job per module: `options` (what is asked, the result, the exit codes), `files` (reading
JSONL and CSV), `records` (validation and the rejects report), `state` (checkpoints and the
ledger), `reconcile` (what a crashed run delivered, read back from the broker), `run` (the
import loop), `dry_run`, `progress` (the bar and the summary) and `cli` (signals, exit code).
"""

from clickpath.connectors.importer.cli import run_cli
from clickpath.connectors.importer.files import FileFormatError, detect_format
from clickpath.connectors.importer.options import ExitCode, ImportOptions

__all__ = ["ExitCode", "FileFormatError", "ImportOptions", "detect_format", "run_cli"]
