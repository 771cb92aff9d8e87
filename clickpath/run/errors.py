"""How a command fails: one exception that `main` turns into `clickpath: <message>` on stderr and
an exit code, so command functions stay testable (they raise; only `main` exits)."""

from __future__ import annotations


class CommandError(Exception):
    """A command cannot do what was asked; `code` is the process exit code (2: bad usage or
    settings, 1: the pipeline is not in the state the command needs)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code
