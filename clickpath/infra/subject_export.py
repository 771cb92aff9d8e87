"""Reading what ClickHouse holds about one brand account for its subject-access export and
shaping it (clickpath/domain/subject_export.py).

The identity, touchpoints and profile are read as the journey reads them (infra/journey.py),
consents as the consents route does (infra/consents.py). Every value is a bound parameter;
every read is keyed by the account (deliveries by the job ids derived from it) and bounded;
tables are grouped by their key, never read with FINAL (DESIGN.md §9).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clickpath.contracts.models.base import is_sealed
from clickpath.domain.consent_log import MAX_HISTORY, consent_answer
from clickpath.domain.identity.journey import iso
from clickpath.domain.identity.policy import DEFAULT_OPERATOR
from clickpath.domain.subject_export import (
    DEFAULT_EVENTS,
    MAX_DELIVERIES,
    MAX_EVENTS,
    ExportRows,
    delivery_ids,
    export_answer,
)
from clickpath.infra.consents import consent_rows, rows_of
from clickpath.infra.journey import query_journey
from clickpath.infra.person_keys import PersonKeys
from clickpath.infra.pseudonym_keys import stable_key
from clickpath.infra.sealed_events import revealer
from clickpath.settings import Settings

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

EVENT_COLUMNS = ("event_id, event_type, occurred_at, received_at, processed_at, source, click_id,"
                 " affiliate_id, campaign_id, transaction_id, amount, currency, is_ftd, payload")
MAX_ENDPOINTS = 1000


def query_export(
    client: Client, db: str, *, brand_id: str, player_id: str, operator_id: str,
    person_key: bytes, limit: int = DEFAULT_EVENTS, full: bool = False,
) -> dict[str, Any] | None:
    """The export of `brand_id:player_id` (domain export_answer), None when clickpath knows
    nothing of the player. `limit`: the account's oldest events it holds (MAX_EVENTS at most);
    `full`, `operator_id` and `person_key` as for query_journey."""
    if not 1 <= limit <= MAX_EVENTS:
        raise ValueError(f"limit must be between 1 and {MAX_EVENTS}")
    journey = query_journey(client, db, brand_id=brand_id, player_id=player_id,
                            operator_id=operator_id, person_key=person_key, limit=1, full=full)
    if journey is None:
        return None
    account = f"{brand_id}:{player_id}"
    p = {"brand": brand_id, "player": player_id, "account": account}
    mine = f"FROM {db}.events WHERE brand_id = {{brand:String}} AND player_id = {{player:String}}"
    events = rows_of(client, (
        f"SELECT {EVENT_COLUMNS} {mine} ORDER BY occurred_at, event_id LIMIT 1 BY event_id"
        " LIMIT {more:UInt32}"
    ), {**p, "more": limit + 1})
    history, latest, history_cut = consent_rows(
        client, db, brand_id=brand_id, player_id=player_id, limit=MAX_HISTORY)
    attributions = rows_of(client, (
        "SELECT a.1 AS status, a.2 AS reason, a.3 AS affiliate_id, a.4 AS campaign_id,"
        " a.5 AS click_id, a.6 AS sub1, a.7 AS sub2, a.8 AS sub3, a.9 AS sub4, a.10 AS sub5,"
        " a.11 AS clicked_at, a.12 AS registered_at, newest AS decided_at FROM ("
        " SELECT argMax(tuple(status, reason, affiliate_id, campaign_id, click_id, sub1, sub2,"
        " sub3, sub4, sub5, clicked_at, registered_at), decided_at) AS a,"
        f" max(decided_at) AS newest FROM {db}.attributions"
        " WHERE brand_id = {brand:String} AND person_id = {account:String} GROUP BY person_id)"
    ), p)
    rg = rows_of(client, (
        f"SELECT event_id, occurred_at, source, currency, payload {mine}"
        " AND event_type = 'responsible_gaming'"
        " ORDER BY occurred_at, event_id LIMIT 1 BY event_id LIMIT {n:UInt32}"
    ), {**p, "n": MAX_HISTORY + 1})
    affiliates = {a["affiliate_id"] for a in attributions}
    affiliates |= {e["affiliate_id"] for e in events if e["affiliate_id"]}
    deliveries = _deliveries(client, db, account, brand_id, affiliates, events[:limit])
    rows = ExportRows(
        journey=journey, events=events[:limit], events_truncated=len(events) > limit,
        consents=consent_answer(brand_id, player_id, history, latest, history_cut),
        attribution=attributions[0] if attributions else None,
        responsible_gaming=rg[:MAX_HISTORY], responsible_gaming_truncated=len(rg) > MAX_HISTORY,
        deliveries=deliveries[:MAX_DELIVERIES],
        deliveries_truncated=len(deliveries) > MAX_DELIVERIES,
    )
    return export_answer(rows, iso(datetime.now(UTC)) or "")


def _deliveries(
    client: Client, db: str, account: str, brand_id: str, affiliates: set[str],
    events: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The delivery jobs about the account, one per job (its last attempt), oldest first."""
    endpoints = rows_of(client, (
        f"SELECT DISTINCT endpoint_id, kind, affiliate_id FROM {db}.delivery_attempts"
        " WHERE brand_id = {brand:String} AND endpoint_id != '-'"
        " AND (kind = 'webhook' OR has({affiliates:Array(String)}, affiliate_id))"
        " ORDER BY endpoint_id LIMIT {n:UInt32}"
    ), {"brand": brand_id, "affiliates": sorted(affiliates), "n": MAX_ENDPOINTS})
    ids = delivery_ids(account, affiliates, events, endpoints)
    if not ids:
        return []
    return rows_of(client, (
        # the last attempt's values as one tuple: argMax of a Nullable column alone skips NULLs
        "SELECT job_id, endpoint_id, k AS kind, e AS event, a AS affiliate_id, l.1 AS outcome,"
        " l.2 AS status, l.3 AS error, n AS attempts, first AS first_at, last AS last_at FROM ("
        " SELECT job_id, endpoint_id, any(kind) AS k, any(event) AS e, any(affiliate_id) AS a,"
        " argMax(tuple(outcome, status, error), (attempted_at, attempt)) AS l,"
        " toInt64(max(attempt)) AS n, min(attempted_at) AS first, max(attempted_at) AS last"
        f" FROM {db}.delivery_log WHERE brand_id = {{brand:String}}"
        " AND has({ids:Array(String)}, job_id) GROUP BY job_id, endpoint_id)"
        " ORDER BY first_at, job_id LIMIT {more:UInt32}"
    ), {"brand": brand_id, "ids": ids, "more": MAX_DELIVERIES + 1})


def export_for(
    client: Client, db: str, settings: Settings, *, brand_id: str, **filters: Any
) -> dict[str, Any] | None:
    """query_export with the brand's operator from `settings` (as journey_for)."""
    operator = settings.operator_of_brand.get(brand_id, DEFAULT_OPERATOR)
    answer = query_export(client, db, brand_id=brand_id, operator_id=operator,
                          person_key=stable_key(settings), **filters)
    if answer is not None:  # the person's own fields, sealed at the door, opened for them
        with PersonKeys.from_settings(settings) as keys:
            reveal = revealer(keys)
            for event in answer["events"]:
                payload = event["payload"]
                if isinstance(payload, dict):
                    event["payload"] = {k: reveal(k, v) if is_sealed(v) else v
                                        for k, v in payload.items()}
    return answer
