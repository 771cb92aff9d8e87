"""`clickpath import` in a terminal: signals, the progress bar and the summary around
`run_import`, and the exit code.

The first Ctrl-C (or SIGTERM) asks the run to stop after its current batch is acknowledged and
checkpointed; a second one stops at once, without that last flush.
"""

from __future__ import annotations

import json
import signal
import sys
import threading

from clickpath.connectors.importer.files import FileFormatError
from clickpath.connectors.importer.options import ExitCode, ImportFailed, ImportOptions
from clickpath.connectors.importer.progress import (
    NullProgress,
    Progress,
    RichProgress,
    first_rejections,
    render_summary,
    summary_json,
)
from clickpath.connectors.importer.run import run_import
from clickpath.settings import Settings


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
        return ExitCode.USAGE
    except OSError as e:  # the file or the report could not be read or written
        progress.close()
        print(f"clickpath import: {e}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        progress.close()
        print(
            "clickpath import: stopped at once; the last batch was not confirmed. Run the same command"
            " again: it checks the topics for that batch and continues.",
            file=sys.stderr,
        )
        return ExitCode.INTERRUPTED
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
