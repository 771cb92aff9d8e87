"""A player's consent log as the consents route and the subject-access export answer it: every
change in the order it was made, and what holds now (docs/privacy.md#consent).

What holds is domain/consent.py's rule, `apply_consent`: per purpose the latest change by event
time wins, so a late "granted" from before a withdrawal stays in the log but changes nothing.
Between two changes of one purpose at the same event time the one the player stage applied last
wins there; here that is the later `processed_at` (the stage's clock, one partition per player),
then the event id. Rows come from the `consent_log` view (deploy/clickhouse/015); this module
never reads ClickHouse, settings or a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, get_args

from clickpath.contracts.models import Consent
from clickpath.domain.identity.journey import iso

PURPOSES: tuple[str, ...] = get_args(Consent.model_fields["purpose"].annotation)
"""Every purpose a consent event may name, in the schema's order."""
DEFAULT_HISTORY = 1000
MAX_HISTORY = 10_000
"""The consent changes an answer lists by default, and at most (`limit`)."""


def change_order(row: Mapping[str, Any]) -> tuple[datetime, datetime, str]:
    """Where a change stands in the log: event time, then when the player stage applied it."""
    return row["occurred_at"], row["processed_at"], row["event_id"]


def change_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One `consent_log` row as JSON."""
    return {
        "event_id": row["event_id"],
        "purpose": row["purpose"],
        "status": "granted" if row["granted"] else "withdrawn",
        "occurred_at": iso(row["occurred_at"]),
        "received_at": iso(row["received_at"]),
        "source": row["source"],
    }


def current_consents(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """Per purpose, the change that holds (`apply_consent`'s rule over `rows`, in any order),
    None for a purpose the player never stated. `rows` must hold each purpose's latest change
    (the log in full, or its latest change per purpose)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        known = latest.get(row["purpose"])
        if known is None or change_order(row) > change_order(known):
            latest[row["purpose"]] = row
    named = [*PURPOSES, *sorted(set(latest) - set(PURPOSES))]
    return {p: change_view(latest[p]) if p in latest else None for p in named}


def consent_answer(
    brand_id: str, player_id: str, history: Sequence[Mapping[str, Any]],
    latest: Iterable[Mapping[str, Any]], truncated: bool,
) -> dict[str, Any]:
    """The consents route's JSON: `current` per purpose (from `latest`, each purpose's latest
    change, and `history`), `history` oldest first (at most what was read), and whether older
    changes were left out of it (`history_truncated`)."""
    ordered = sorted(history, key=change_order)
    return {
        "brand_id": brand_id,
        "player_id": player_id,
        "current": current_consents([*latest, *ordered]),
        "history": [change_view(row) for row in ordered],
        "history_truncated": truncated,
    }
