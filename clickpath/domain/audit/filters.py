"""Which audit entries `clickpath audit list` shows: by actor, kind, subject and time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from clickpath.domain.audit.chain import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    """None: any. `kind` ending in "." is a family (`plan.`, `catalogue.`); `since` is
    inclusive, `until` exclusive; `limit`: the newest that many, still oldest first."""

    actor: str | None = None
    kind: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def matches(self, entry: AuditEntry) -> bool:
        if self.actor is not None and entry.actor != self.actor:
            return False
        if self.kind is not None and not (
            entry.kind == self.kind or (self.kind.endswith(".") and entry.kind.startswith(self.kind))
        ):
            return False
        if self.subject is not None and entry.subject != self.subject:
            return False
        if self.since is not None and entry.at < self.since:
            return False
        return self.until is None or entry.at < self.until


def select(entries: Iterable[AuditEntry], wanted: AuditFilter) -> list[AuditEntry]:
    found = [e for e in entries if wanted.matches(e)]
    if wanted.limit is not None:
        found = found[-wanted.limit:] if wanted.limit > 0 else []
    return found
