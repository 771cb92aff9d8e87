"""Reading one brand account's erasure certificate from ClickHouse (`erasure_certificates`,
deploy/clickhouse/016) and shaping it with its statement (clickpath/domain/erasure_request.py).

Bound parameters, keyed by the account, one row: the earliest completed certificate stands
(the sink writes none for a replayed erasure; without FINAL a duplicate is not merged yet).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from clickpath.domain.erasure_request import certificate_statement
from clickpath.domain.identity.journey import iso

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

CERTIFICATE_COLUMNS = (
    "brand_id", "player_id", "account", "request_id", "requested_by", "requested_at",
    "graph_erased_at", "key_destroyed_at", "key_existed", "identifiers_removed", "links_removed",
    "clicks_anonymised", "deliveries_revoked", "rows_anonymised", "completed_at", "written_at",
)


def query_erasure_certificate(
    client: Client, db: str, *, brand_id: str, player_id: str
) -> dict[str, Any] | None:
    """The certificate route's JSON for `brand_id:player_id` (every column, times ISO 8601,
    `rows_anonymised` per table, and `statement`), None when it has none (yet)."""
    result = client.query(
        f"SELECT {', '.join(CERTIFICATE_COLUMNS)} FROM {db}.erasure_certificates"
        " WHERE brand_id = {brand:String} AND player_id = {player:String}"
        " ORDER BY completed_at, written_at LIMIT 1",
        parameters={"brand": brand_id, "player": player_id},
    )
    if not result.result_rows:
        return None
    row = dict(zip(result.column_names, result.result_rows[0], strict=True))
    answer: dict[str, Any] = {
        name: iso(value) if isinstance(value, datetime) else value for name, value in row.items()
    }
    answer["key_existed"] = bool(row["key_existed"])
    answer["deliveries_revoked"] = bool(row["deliveries_revoked"])
    answer["rows_anonymised"] = {str(table): int(n) for table, n in (row["rows_anonymised"] or {}).items()}
    for count in ("identifiers_removed", "links_removed", "clicks_anonymised"):
        answer[count] = int(row[count])
    answer["statement"] = certificate_statement(answer)
    return answer
