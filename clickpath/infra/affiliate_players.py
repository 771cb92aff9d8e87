"""The affiliate portal's reads from ClickHouse: an affiliate's players with their status and
reason codes, the affiliates with a player on hold, and an affiliate's recent postback
deliveries (docs/affiliate-api.md).

The players come from the `affiliate_players` view (deploy/clickhouse/012_affiliate_players.sql:
each player token's highest version, exact without FINAL). A player who withdrew
`affiliate_data_sharing` consent (`shares_data` false) is counted in the totals and never
listed: the row filter is in the SQL, so no such row leaves ClickHouse. The deliveries come from
`delivery_log` (008), one row per job: its last attempt's outcome. Every query takes the
affiliate as a bound parameter; nothing here decides who may ask (connectors/affiliate_routes.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from clickpath.contracts.money import format_amount
from clickpath.domain.commissions.statements import iso
from clickpath.domain.redact import redact

PLAYER_FIELDS = (
    "player_token", "brand_id", "campaign_id", "registered_at", "status", "reasons",
    "cpa_amount", "currency", "qualified_at",
)
STATUSES = ("qualified", "pending", "held", "reversed", "not_attributed")
MAX_LIMIT = 1000


def _scope(affiliate_id: str, brand_id: str | None) -> tuple[str, dict[str, Any]]:
    where = "affiliate_id = {affiliate:String}"
    params: dict[str, Any] = {"affiliate": affiliate_id}
    if brand_id is not None:
        where += " AND brand_id = {brand:String}"
        params["brand"] = brand_id
    return where, params


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):  # the driver hands DateTime64 back naive, in UTC
        return iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    return value


def query_affiliate_players(
    client: Client, db: str, *, affiliate_id: str, brand_id: str | None = None,
    status: str | None = None, reason: str | None = None, limit: int = 100, offset: int = 0,
) -> dict[str, Any]:
    """`{"players": [...], "totals": {...}}`: the affiliate's players who share data, newest
    registration first, filtered by `status` and a `reason` code, a page of `limit` from
    `offset`; the totals count every player of the affiliate (in `brand_id`, if given), the
    withheld ones (consent withdrawn) too, and `matching` the listed rows the filters match."""
    if not 0 < limit <= MAX_LIMIT or offset < 0:
        raise ValueError(f"limit must be 1..{MAX_LIMIT} and offset >= 0")
    where, params = _scope(affiliate_id, brand_id)
    listed = "shares_data"
    if status is not None:
        listed += " AND status = {status:String}"
        params["status"] = status
    if reason is not None:
        listed += " AND has(reasons, {reason:String})"
        params["reason"] = reason
    result = client.query(
        f"SELECT {', '.join(PLAYER_FIELDS)} FROM {db}.affiliate_players "
        f"WHERE {where} AND {listed} "
        "ORDER BY registered_at DESC NULLS LAST, player_token "
        "LIMIT {limit:UInt32} OFFSET {offset:UInt32}",
        parameters={**params, "limit": limit, "offset": offset},
    )
    players = []
    for row in result.result_rows:
        values = {name: _utc(v) for name, v in zip(PLAYER_FIELDS, row, strict=True)}
        values["cpa_amount"] = format_amount(values["cpa_amount"])
        values["reasons"] = list(values["reasons"])
        players.append(values)
    counts = ", ".join(f"toInt64(countIf(status = '{s}')) AS {s}" for s in STATUSES)
    totals = client.query(
        f"SELECT toInt64(count()) AS players, {counts}, "
        f"toInt64(countIf(NOT shares_data)) AS withheld, toInt64(countIf({listed})) AS matching "
        f"FROM {db}.affiliate_players WHERE {where}",
        parameters=params,
    )
    return {"players": players,
            "totals": dict(zip(totals.column_names, totals.result_rows[0], strict=True))}


def shared_tokens(client: Client, db: str, affiliate_id: str) -> set[str]:
    """The tokens of the affiliate's players whose newest status says they share their data
    with it: any other player (consent withdrawn, or no status yet) is not shown, and their
    ledger entries keep their amounts, not who they are about (fails closed)."""
    rows: Sequence[Sequence[Any]] = client.query(
        f"SELECT player_token FROM {db}.affiliate_players "
        f"WHERE affiliate_id = {{a:String}} AND shares_data", parameters={"a": affiliate_id},
    ).result_rows
    return {str(r[0]) for r in rows}


def affiliates_on_hold(client: Client, db: str) -> set[str]:
    """The affiliates with at least one player whose newest status has reason `fraud_hold`
    (a hold in effect): what a statement shows as "On hold"."""
    rows: Sequence[Sequence[Any]] = client.query(
        f"SELECT DISTINCT affiliate_id FROM {db}.affiliate_players WHERE has(reasons, 'fraud_hold')"
    ).result_rows
    return {str(r[0]) for r in rows}


def query_affiliate_deliveries(
    client: Client, db: str, *, affiliate_id: str, brand_id: str | None = None,
    since: datetime | None = None, limit: int = 100,
) -> list[dict[str, Any]]:
    """The affiliate's postback deliveries, one per job, the most recent last attempt first:
    the last attempt's outcome (`status`: delivered, retry, dead_letter, disabled, refused),
    its HTTP status and (redacted) error, the attempts made. Only postbacks to the affiliate's
    own endpoints: not webhooks, and not what the player stage suppressed (those never reached
    an endpoint, and say why about one player). In `brand_id`, if given."""
    if not 0 < limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    where, params = _scope(affiliate_id, brand_id)
    params["limit"] = limit
    having = ""
    if since is not None:
        aware = since if since.tzinfo else since.replace(tzinfo=UTC)
        params["since_ms"] = int(aware.timestamp() * 1000)
        having = "HAVING max(attempted_at) >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')"
    rows: Sequence[Sequence[Any]] = client.query(
        # the last attempt's values as one tuple: argMax of a Nullable column alone skips NULLs
        "SELECT job_id, endpoint_id, any(event), "
        "argMax(tuple(outcome, status, error), (attempted_at, attempt)), "
        "toInt64(max(attempt)), min(attempted_at), max(attempted_at) "
        f"FROM {db}.delivery_log "
        f"WHERE {where} AND kind = 'postback' AND endpoint_id != '-' "
        f"GROUP BY job_id, endpoint_id {having} "
        "ORDER BY max(attempted_at) DESC, job_id LIMIT {limit:UInt32}",
        parameters=params,
    ).result_rows
    return [
        {"job_id": job, "endpoint_id": endpoint, "event": event, "status": last[0],
         "attempts": attempts, "http_status": last[1], "error": redact(last[2]) or None,
         "first_attempt_at": _utc(first), "last_attempt_at": _utc(latest)}
        for job, endpoint, event, last, attempts, first, latest in rows
    ]
