"""Reading one brand account's consent log from ClickHouse (the `consent_log` view,
deploy/clickhouse/015) and shaping it (clickpath/domain/consent_log.py).

Every value is a bound parameter; every read is keyed by the account and bounded. The view
reads each event once without FINAL (it groups by the event id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clickpath.domain.consent_log import DEFAULT_HISTORY, MAX_HISTORY, consent_answer

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

LOG_COLUMNS = "event_id, purpose, granted, occurred_at, received_at, processed_at, source"
ORDER = "occurred_at DESC, processed_at DESC, event_id DESC"  # newest first: domain change_order


def rows_of(client: Client, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=params)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def consent_rows(
    client: Client, db: str, *, brand_id: str, player_id: str, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """(the newest `limit` changes, each purpose's latest change, whether older changes were
    left out) of the account's consent log."""
    p = {"brand": brand_id, "player": player_id, "more": limit + 1}
    where = f"FROM {db}.consent_log WHERE brand_id = {{brand:String}} AND player_id = {{player:String}}"
    newest = rows_of(client, f"SELECT {LOG_COLUMNS} {where} ORDER BY {ORDER} LIMIT {{more:UInt32}}", p)
    latest = rows_of(client, f"SELECT {LOG_COLUMNS} {where} ORDER BY {ORDER} LIMIT 1 BY purpose", p)
    return newest[:limit], latest, len(newest) > limit


def account_known(client: Client, db: str, *, brand_id: str, player_id: str) -> bool:
    """Whether clickpath has a canonical event or a profile of the account."""
    p = {"brand": brand_id, "player": player_id, "account": f"{brand_id}:{player_id}"}
    found = client.query(
        f"SELECT 1 FROM {db}.events WHERE brand_id = {{brand:String}}"
        " AND player_id = {player:String} LIMIT 1"
        f" UNION ALL SELECT 1 FROM {db}.players WHERE person_id = {{account:String}} LIMIT 1",
        parameters=p,
    ).result_rows
    return bool(found)


def query_consents(
    client: Client, db: str, *, brand_id: str, player_id: str, limit: int = DEFAULT_HISTORY
) -> dict[str, Any] | None:
    """The consents route's JSON for `brand_id:player_id` (domain consent_answer), None when
    clickpath knows nothing of the player (no event, no profile)."""
    if not 1 <= limit <= MAX_HISTORY:
        raise ValueError(f"limit must be between 1 and {MAX_HISTORY}")
    history, latest, truncated = consent_rows(
        client, db, brand_id=brand_id, player_id=player_id, limit=limit
    )
    if not history and not account_known(client, db, brand_id=brand_id, player_id=player_id):
        return None
    return consent_answer(brand_id, player_id, history, latest, truncated)
