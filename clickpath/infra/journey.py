"""Reading one brand account's journey from ClickHouse (deploy/clickhouse/005, 013 and the
events table) and shaping it for the key that asked (clickpath/domain/identity/journey.py).

Every value is a bound parameter; every read is keyed by the account (or its person) and
bounded. The identity tables are read the way their views read them (the highest version per
key, no FINAL). The links that reach an answer are read from `identity_links` itself, since an
admin sees the other account in full, with the view's rule kept for everyone else: another
brand's player id is blanked here already, and again by the domain's redaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clickpath.domain.identity.account_state import person_id_of
from clickpath.domain.identity.journey import (
    DEFAULT_TIMELINE,
    MAX_ROWS,
    MAX_TIMELINE,
    JourneyRows,
    journey_answer,
    person_accounts,
)
from clickpath.domain.identity.policy import DEFAULT_OPERATOR
from clickpath.infra.pseudonym_keys import stable_key
from clickpath.settings import Settings

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

PROFILE_COLUMNS = (
    "registered_at", "kyc_status", "first_deposit_at", "ftd_amount", "ftd_currency", "deposits",
    "declined_deposits", "withdrawals", "chargebacks", "deposit_sum", "withdrawal_sum",
    "chargeback_sum", "stakes", "wins", "bonus_stakes", "bonus_cost", "ggr", "ngr", "sessions",
    "last_activity_at", "first_activity_at", "activity_events", "consents", "rg_active",
    "tag_status", "affiliate_id", "campaign_id", "churn_risk", "churn_risk_now", "updated_at",
    "version",
)


def _rows(client: Client, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=params)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def query_journey(
    client: Client, db: str, *, brand_id: str, player_id: str, operator_id: str,
    person_key: bytes, limit: int = DEFAULT_TIMELINE, full: bool = False,
) -> dict[str, Any] | None:
    """The journey of `brand_id:player_id` as JSON (domain/identity/journey.py), None when
    clickpath knows nothing of the player. `full`: an admin's answer (every brand's accounts
    in full); else another brand's accounts are only linked. `operator_id`: the brand's
    operator, and `person_key` (IdentityPolicy.person_key), for an account the sink has not
    written yet (its person id is computed)."""
    if not 1 <= limit <= MAX_TIMELINE:
        raise ValueError(f"limit must be between 1 and {MAX_TIMELINE}")
    account = f"{brand_id}:{player_id}"
    p = {"brand": brand_id, "player": player_id, "account": account, "n": MAX_ROWS}
    person, operator, changed = _person_of(client, db, p, operator_id, person_key)
    accounts = _accounts(client, db, account, person)
    links = _rows(client, (
        "SELECT other_brand_id, if(other_brand_id = {brand:String} OR {full:Bool},"
        " other_player_id, '') AS other_player_id, l.1 AS status, l.2 AS score,"
        " l.3 AS reasons, l.4 AS decided_at FROM ("
        " SELECT other, other_brand_id, other_player_id,"
        " argMax(tuple(status, score, reasons, decided_at), version) AS l"
        f" FROM {db}.identity_links WHERE brand_id = {{brand:String}} AND account = {{account:String}}"
        " GROUP BY other, other_brand_id, other_player_id)"
        " WHERE status != 'removed' ORDER BY status = 'merged' DESC, score DESC, other"
        " LIMIT {n:UInt32}"
    ), {**p, "full": full})
    signals = _rows(client, (
        "SELECT brand_id, signal_id, kind, accounts, score, reasons, raised_at"
        f" FROM {db}.identity_signals_now WHERE brand_id = {{brand:String}}"
        " AND has(accounts, {account:String}) ORDER BY score DESC, signal_id LIMIT {n:UInt32}"
    ), p)
    touchpoints = _rows(client, (
        "SELECT click_id, affiliate_id, campaign_id, clicked_at, link"
        f" FROM {db}.identity_touchpoints_now WHERE brand_id = {{brand:String}}"
        " AND account = {account:String} ORDER BY clicked_at, click_id LIMIT {n:UInt32}"
    ), p)
    # The newest `limit` canonical events (one row per event id, merged or not), oldest first.
    newest = _rows(client, (
        "SELECT event_id, event_type, occurred_at, amount, currency, is_ftd"
        f" FROM {db}.events WHERE brand_id = {{brand:String}} AND player_id = {{player:String}}"
        " ORDER BY occurred_at DESC, event_id DESC LIMIT 1 BY event_id LIMIT {more:UInt32}"
    ), {**p, "more": limit + 1})
    profiles = _rows(client, (
        f"SELECT {', '.join(PROFILE_COLUMNS)} FROM {db}.players WHERE person_id = {{account:String}}"
    ), p)
    if not (newest or profiles or links or signals or touchpoints or changed or len(accounts) > 1):
        return None
    rows = JourneyRows(
        brand_id=brand_id, player_id=player_id, person_id=person, accounts=accounts,
        links=links, signals=signals, touchpoints=touchpoints,
        timeline=list(reversed(newest[:limit])), timeline_truncated=len(newest) > limit,
        profile=profiles[0] if profiles else None,
    )
    return journey_answer(rows, None if full else brand_id)


def journey_for(
    client: Client, db: str, settings: Settings, *, brand_id: str, **filters: Any
) -> dict[str, Any] | None:
    """query_journey with the brand's operator from `settings` (`[operators.<id>]`)."""
    operator = settings.operator_of_brand.get(brand_id, DEFAULT_OPERATOR)
    key = stable_key(settings)  # IdentityPolicy.person_key's
    return query_journey(client, db, brand_id=brand_id, operator_id=operator, person_key=key,
                         **filters)


def _person_of(
    client: Client, db: str, p: dict[str, Any], operator_id: str, key: bytes
) -> tuple[str, str, bool]:
    """(person id, operator, whether the account ever changed person) of the account: its
    newest change's, else its own."""
    found = client.query(
        "SELECT argMax(tuple(person_id, operator_id), version)"
        f" FROM {db}.identity_person_changes WHERE brand_id = {{brand:String}}"
        " AND account = {account:String} HAVING count() > 0", parameters=p,
    ).result_rows
    if found:
        person, operator = found[0][0]
        return str(person), str(operator), True
    return person_id_of(operator_id, p["account"], key), operator_id, False


def _accounts(client: Client, db: str, account: str, person: str) -> list[str]:
    """The person's accounts (domain person_accounts): those whose newest change names it."""
    members = [r["account"] for r in _rows(client, (
        f"SELECT account FROM {db}.identity_person_changes WHERE account IN ("
        f" SELECT account FROM {db}.identity_person_changes WHERE person_id = {{person:String}})"
        " GROUP BY account HAVING argMax(person_id, version) = {person:String}"
        " ORDER BY account LIMIT {n:UInt32}"
    ), {"person": person, "n": MAX_ROWS})]
    return person_accounts(account, members)
