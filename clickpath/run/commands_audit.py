"""`clickpath audit verify` and `clickpath audit list`: the data directory's audit chain
(clickpath/infra/audit.py), checked with CLICKPATH_AUDIT_KEY or listed. Both only read."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from clickpath.run.errors import CommandError
from clickpath.settings import Settings


def moment(text: str) -> datetime:
    """A --since/--until value: a date (its midnight) or an ISO time; UTC unless it says."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or time: use YYYY-MM-DD or"
                                         " 2026-01-31T12:00:00+00:00") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.infra.audit import AuditTrail
    from clickpath.infra.audit_chain import CHAIN_FILE, HEAD_FILE

    trail = AuditTrail.from_settings(settings)
    where = trail.directory
    if not (where / CHAIN_FILE).exists() and not (where / HEAD_FILE).exists():
        # Nothing to check is no proof: a removed chain looks the same (anchor its head elsewhere).
        raise CommandError(f"no audit trail at {where}: nothing recorded there yet, or it was"
                           " removed", 1)
    problems, count = trail.verify()
    if not problems:
        print(f"OK: {count} audit entries, chain and signed head intact ({where})")
        return
    first = problems[0]
    more = f" ({len(problems) - 1} more problem{'s' if len(problems) > 2 else ''} after it)" \
        if len(problems) > 1 else ""
    hint = ""
    if settings.audit_key_is_shipped and not settings.demo:
        hint = (" CLICKPATH_AUDIT_KEY is unset or the shipped demo key: set the key this chain"
                " was signed with.")
    raise CommandError(f"audit trail broken at {first}{more} ({where}).{hint}", 1)


def cmd_audit_list(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.domain.audit.filters import AuditFilter
    from clickpath.infra.audit import AuditTrail

    if args.limit is not None and args.limit < 1:
        raise CommandError("--limit: at least 1")
    wanted = AuditFilter(actor=args.actor, kind=args.kind, subject=args.subject,
                         since=args.since, until=args.until, limit=args.limit)
    entries = AuditTrail.from_settings(settings).entries(wanted)
    if args.format == "json":
        print(json.dumps([e.to_json() for e in entries], indent=2))
        return
    if not entries:
        print("no audit entries match")
        return
    rows = [("SEQ", "AT (UTC)", "ACTOR", "KIND", "SUBJECT", "ORIGIN", "DETAIL")]
    for e in entries:
        shown = dict(e.detail)
        if isinstance(shown.get("settings"), dict):  # config.changed: every setting (see json)
            shown["settings"] = f"{len(shown['settings'])} settings"
        detail = json.dumps(shown, separators=(",", ":"))
        if len(detail) > 80:
            detail = detail[:77] + "..."
        rows.append((str(e.seq), e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), e.actor,
                     e.kind, e.subject, e.origin, detail))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
