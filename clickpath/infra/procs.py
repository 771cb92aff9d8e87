"""Child processes that never outlive their parent (the embedded broker, role processes)."""

from __future__ import annotations

import signal
import sys


def die_with_parent() -> None:
    """In a child (Popen preexec_fn): get SIGTERM when the parent dies, so none outlives it."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
