"""structlog JSON logs for clickpath and for the libraries under it (Faust, uvicorn, kafka).

Role processes log JSON lines (their log files are read by machines); a console a person
watches (`clickpath up`'s supervisor) gets one sentence per event instead.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

import structlog

_META = {"event", "level", "timestamp"}


def human_renderer(messages: Mapping[str, str]) -> structlog.types.Processor:
    """One line per event: local time, then `messages[event]` filled with the event's fields
    (e.g. "{role} started (pid {pid})"); an event without a message keeps its name and fields."""

    def render(_: Any, __: str, event: structlog.types.EventDict) -> str:
        name = str(event.get("event", ""))
        fields = {k: v for k, v in event.items() if k not in _META}
        try:
            text = messages[name].format(**fields)
        except (KeyError, IndexError, ValueError):  # the process's own role says nothing here
            text = " ".join([name, *(f"{k}={v}" for k, v in fields.items() if k != "role")])
        level = str(event.get("level", "info"))
        prefix = f"{level}: " if level in ("warning", "error", "critical") else ""
        return f"{time.strftime('%H:%M:%S')} clickpath: {prefix}{text}"

    return render


def configure_logging(
    level: str = "info", role: str = "clickpath", messages: Mapping[str, str] | None = None
) -> None:
    """JSON lines on stderr; with `messages`, sentences for a person (see `human_renderer`)."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer() if messages is None else human_renderer(messages),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per HTTP request is noise at info; delivery outcomes are logged by clickpath.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.bind_contextvars(role=role)
