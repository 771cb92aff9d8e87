"""The audit recorder the HTTP service, the CLI and the roles share (docs/privacy.md#audit-trail).

    trail = AuditTrail.from_settings(settings)
    trail.record(actor=key.key_id, kind="plan.version_added", subject=plan_id,
                 detail={"version": 3}, origin="203.0.113.9")

`record` returns the entry once it is on disk with its signed head, or raises AuditWriteError:
the caller fails the change's request or command with it (a change is never left unrecorded
silently). The reason is for the log only; it never holds the detail, which may be refused
(AuditRefused, wrapped the same way) but is never logged. `record_config` writes
`config.changed` when a role starts with settings that differ from the ones last recorded for
it. The chain's files: clickpath/infra/audit_chain.py.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

from clickpath.contracts.models import utcnow
from clickpath.domain.audit.chain import AuditEntry, AuditRefused, Head, next_entry
from clickpath.domain.audit.config import changed_names, digest, shown_settings
from clickpath.domain.audit.filters import AuditFilter, select
from clickpath.domain.audit.verify import Problem, Unreadable, verify
from clickpath.infra.audit_chain import AuditChainBroken, ChainFile, ChainWriter
from clickpath.settings import Settings

log = structlog.get_logger(__name__)

# Values `up` makes anew for every run: a change in them is no change of configuration.
PER_RUN_SETTINGS = frozenset({"reports_url", "reports_token", "instances_dir"})


class AuditWriteError(RuntimeError):
    """The entry could not be written; the change it records must fail. Its text is for the log."""


def cli_actor() -> str:
    """`cli:<os user>`: who runs a command on this host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        user = ""
    return f"cli:{user or 'unknown'}"


def cli_origin() -> str:
    return f"cli@{socket.gethostname() or 'localhost'}"


class AuditTrail:
    def __init__(self, directory: Path, key: bytes, clock: Callable[[], datetime] = utcnow) -> None:
        self.directory = directory
        self.chain = ChainFile(directory, key)
        self._key = key
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], datetime] = utcnow) -> AuditTrail:
        """The data directory's chain under CLICKPATH_AUDIT_KEY. Whether that key may be used
        (not the shipped one outside the demo) is the commands' check: run/guards.py."""
        return cls(settings.audit_dir, settings.audit_key.get_secret_value().strip().encode(), clock)

    def record(self, *, actor: str, kind: str, subject: str, origin: str,
               detail: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append one entry and sign the new head; raises AuditWriteError."""
        with self._writing(kind) as writer:
            return self._append(writer, actor, kind, subject, origin, detail or {})

    def record_config(self, settings: Settings, *, role: str, actor: str,
                      origin: str) -> AuditEntry | None:
        """`config.changed` for `role` when its settings differ from the ones last recorded for
        it (None: the same, nothing written); raises AuditWriteError."""
        shown = shown_settings(*_split_settings(settings), self._key)
        now = digest(shown)
        subject = f"role:{role}"
        with self._writing("config.changed") as writer:
            before = writer.last_of("config.changed", subject)
            if before is not None and before.detail.get("digest") == now:
                return None
            previous = before.detail.get("settings") if before is not None else None
            detail = {"digest": now, "settings": shown,
                      "changed": None if previous is None else changed_names(previous, shown)}
            return self._append(writer, actor, "config.changed", subject, origin, detail)

    def read(self) -> tuple[list[AuditEntry | Unreadable], Head | None]:
        return self.chain.read()

    def verify(self) -> tuple[list[Problem], int]:
        """The chain's problems (none: intact) and how many lines it has."""
        items, head = self.chain.read()
        return verify(items, head, self._key), len(items)

    def entries(self, wanted: AuditFilter = AuditFilter()) -> list[AuditEntry]:
        items, _ = self.chain.read()
        return select((i for i in items if isinstance(i, AuditEntry)), wanted)

    @contextmanager
    def _writing(self, kind: str) -> Iterator[ChainWriter]:
        """The chain locked and checked for one append; every failure as AuditWriteError,
        logged by kind and reason, never by detail."""
        try:
            with self.chain.writing() as writer:
                writer.open_end()
                yield writer
        except (AuditChainBroken, AuditRefused, OSError) as e:
            log.error("audit_write_failed", kind=kind, error_type=type(e).__name__,
                      reason=str(e)[:300])
            raise AuditWriteError(f"audit entry {kind} not written: {e}") from e

    def _append(self, writer: ChainWriter, actor: str, kind: str, subject: str, origin: str,
                detail: Mapping[str, Any]) -> AuditEntry:
        at = self._clock()
        if writer.adopted is not None:  # a crash came between it and its head: say so
            seq = writer.adopted.seq
            writer.append(next_entry(writer.last, at=at, actor="clickpath", kind="audit.tail_adopted",
                                     subject=f"seq:{seq}", origin=origin,
                                     detail={"seq": seq, "why": "written before a crash, unsigned"}))
            writer.adopted = None
        entry = next_entry(writer.last, at=at, actor=actor, kind=kind, subject=subject,
                           detail=detail, origin=origin)
        writer.append(entry)
        writer.sign()
        return entry


def _split_settings(settings: Settings) -> tuple[dict[str, Any], dict[str, str | None]]:
    """The settings as (plain values, secret values), without the per-run ones (and without
    the embedded broker's address, a new port each run)."""
    dumped = settings.model_dump(mode="json")
    plain: dict[str, Any] = {}
    secrets: dict[str, str | None] = {}
    for name in type(settings).model_fields:
        if name in PER_RUN_SETTINGS:
            continue
        if name == "kafka_bootstrap_servers" and settings.broker_compat == "tansu":
            continue
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            secrets[name] = value.get_secret_value()
        elif name.endswith(("_password", "_key", "_token")) and value is None:
            secrets[name] = None
        else:
            plain[name] = dumped[name]
    return plain, secrets
