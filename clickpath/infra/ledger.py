"""The commission ledger read from ClickHouse: an affiliate's entries for a period, and the
period's statements, as of a time (docs/ledger.md).

Both read the `ledger_entries` view (deploy/clickhouse/009, 010, 011), which takes each entry
id's earliest copy, so a re-sent entry counts once, merged or not, and no read needs FINAL.
The statements are summed in SQL (exact Decimal sums per affiliate and currency, one pass over
what the period pays) and shaped by the pure module (domain/commissions/statements.py), whose
columns they follow; a closed period's are read as frozen at its close (infra/closes.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from clickpath.contracts.models import LedgerEntry
from clickpath.domain.commissions.statements import entry_json
from clickpath.infra.affiliate_players import shared_tokens
from clickpath.infra.closes import held_affiliates, pays_clause, read_closes, statements

_FIELDS = tuple(LedgerEntry.model_fields)
_AS_OF = "recorded_at <= fromUnixTimestamp64Milli({as_of_ms:Int64}, 'UTC')"
_TIMES = ("occurred_at", "recorded_at", "registered_at")


def _ms(at: datetime) -> int:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


# What an entry says of its player, kept from the affiliate when the player withdrew consent.
_ABOUT_PLAYER: dict[str, Any] = {"player_token": None, "registered_at": None, "player_brand_id": None,
                 "player_campaign_id": None, "caused_by": []}


def query_ledger_entries(
    client: Client, db: str, *, affiliate_id: str, period: str, as_of: datetime,
    for_affiliate: bool = False,
) -> list[dict[str, Any]]:
    """The affiliate's entries that `period` pays (its own and late ones of closed periods
    before it; a closed period's as frozen at its close) recorded up to `as_of`, each once, in
    the order they were recorded, as JSON values (statements.entry_json). `for_affiliate`: as
    the affiliate may read them, so an entry about a player who withdrew (or never gave)
    affiliate_data_sharing consent, or whose status has not reached ClickHouse yet, keeps its
    amount but says nothing of the player."""
    pays, params = pays_clause(db, period, read_closes(client, db))
    rows: Sequence[Sequence[Any]] = client.query(
        f"SELECT {', '.join(_FIELDS)} FROM {db}.ledger_entries "
        f"WHERE affiliate_id = {{affiliate:String}} AND {pays} AND {_AS_OF} "
        "ORDER BY recorded_at, entry_id",
        parameters={**params, "affiliate": affiliate_id, "as_of_ms": _ms(as_of)},
    ).result_rows
    entries = []
    for row in rows:
        values = dict(zip(_FIELDS, row, strict=True))
        for name in _TIMES:  # the driver hands DateTime64 back naive, in UTC
            if isinstance(values[name], datetime) and values[name].tzinfo is None:
                values[name] = values[name].replace(tzinfo=UTC)
        entries.append(entry_json(LedgerEntry(**values)))
    if for_affiliate:
        shown = shared_tokens(client, db, affiliate_id)
        entries = [{**e, **_ABOUT_PLAYER} if e["player_token"] not in shown | {None} else e
                   for e in entries]
    return entries


def query_statements(client: Client, db: str, *, period: str, as_of: datetime) -> list[dict[str, Any]]:
    """One statement row per affiliate and payout currency of `period`, as JSON values
    (StatementRow.as_json): a closed period's frozen rows with their status, else the entries
    recorded up to `as_of` that the period pays (infra/closes.py); the total is the exact sum
    of the entries."""
    holds = held_affiliates(client, db)
    return [row.as_json() for row in statements(client, db, period=period, as_of=as_of, holds=holds)]
