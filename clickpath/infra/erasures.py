"""The ClickHouse side of an erasure (docs/privacy.md#erasure): the account's rows anonymised,
and its certificate written and read.

What is anonymised: every personal field kept after the door (the e-mail, phone and IP hashes,
the IP prefix, device id, user agent, referrer, landing and page URLs, sub1–sub5, customer id)
in the account's events and in the events of the clicks on its path, and the same columns of
the tables that copy them (attributions, the 006 touchpoint tables). The values become null in
a payload and '' in a column; every count, amount, id and time stays, so the funnel, the player's
value, the cohorts and the commission ledger read exactly what they read before. A mutation
rewrites the parts, so the old values do not stay on disk; it is queued (ClickHouse keeps it
across restarts) and applied in the background, not waited for.

Idempotent: anonymising twice changes nothing, and a certificate once written is the one read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from clickhouse_connect.driver.client import Client

from clickpath.contracts.models import Erasure
from clickpath.infra.person_keys import Shredding

PERSONAL_PAYLOAD_FIELDS: Final = (
    "email_hash", "phone_hash", "previous_email_hash", "previous_phone_hash", "ip_hash",
    "ip_prefix", "device_id", "user_agent", "referrer", "landing_url", "page_url",
    "sub1", "sub2", "sub3", "sub4", "sub5", "customer_id",
)
# A JSON string value of one of those fields (orjson's output: no spaces, escapes as \x).
_FIELD_VALUE: Final = '"(' + "|".join(PERSONAL_PAYLOAD_FIELDS) + r')":"(?:[^"\\]|\\.)*"'
_SUBS: Final = "sub1 = '', sub2 = '', sub3 = '', sub4 = '', sub5 = ''"
# Not waited for: a mutation rewrites parts in the background, and waiting for each erasure's
# held the sink behind its input under load (the crash test erases a fifth of its players).
# ClickHouse keeps a queued mutation across restarts and applies it to every part.
_SYNC: Final = "SETTINGS mutations_sync = 0"

# table -> (what its rows of the account are, the change): {b} brand, {p} player, {a} account,
# {c} the clicks on its path.
_UPDATES: Final[dict[str, tuple[str, str]]] = {
    "events": (
        "brand_id = {b:String} AND (player_id = {p:String}"
        " OR (event_type = 'click' AND click_id IN {c:Array(String)}))",
        "payload = replaceRegexpAll(payload, {pattern:String}, '\"\\\\1\":null')",
    ),
    "attributions": (
        "brand_id = {b:String} AND (player_id = {p:String} OR click_id IN {c:Array(String)})",
        _SUBS,
    ),
    "touchpoint_rows": ("brand_id = {b:String} AND person_id = {a:String}",
                        f"{_SUBS}, device_id = ''"),
}
# Rows whose personal value is part of the sort key: a mutation cannot change those, so the
# rows go (the 006 touchpoint look-ups, which the identity graph's touchpoints replaced).
_DELETES: Final[dict[str, str]] = {
    "touchpoint_click_keys": "brand_id = {b:String} AND click_id IN {c:Array(String)}",
    "touchpoint_registration_keys": "brand_id = {b:String} AND person_id = {a:String}",
}


def _parameters(erasure: Erasure) -> dict[str, Any]:
    return {"b": erasure.brand_id, "p": erasure.player_id, "a": erasure.account,
            "c": list(erasure.click_ids), "pattern": _FIELD_VALUE}


def anonymise(client: Client, db: str, erasure: Erasure) -> dict[str, int]:
    """Anonymise the erased account's rows; per table, how many rows held it."""
    params = _parameters(erasure)
    done: dict[str, int] = {}
    for table, (where, change) in _UPDATES.items():
        done[table] = _count(client, db, table, where, params)
        if done[table]:
            client.command(f"ALTER TABLE {db}.{table} UPDATE {change} WHERE {where} {_SYNC}",
                           parameters=params)
    for table, where in _DELETES.items():
        done[table] = _count(client, db, table, where, params)
        if done[table]:
            client.command(f"ALTER TABLE {db}.{table} DELETE WHERE {where} {_SYNC}",
                           parameters=params)
    return done


def _count(client: Client, db: str, table: str, where: str, params: dict[str, Any]) -> int:
    rows = client.query(f"SELECT count() FROM {db}.{table} WHERE {where}", parameters=params)
    return int(rows.result_rows[0][0])


CERTIFICATE_COLUMNS: Final = (
    "brand_id", "player_id", "account", "request_id", "requested_by", "requested_at",
    "graph_erased_at", "key_destroyed_at", "key_existed", "identifiers_removed", "links_removed",
    "clicks_anonymised", "deliveries_revoked", "rows_anonymised", "completed_at",
)


def certified(client: Client, db: str, erasures: list[Erasure]) -> set[str]:
    """The accounts among `erasures` that have a certificate already."""
    if not erasures:
        return set()
    rows = client.query(
        f"SELECT DISTINCT account FROM {db}.erasure_certificates WHERE account IN "
        "{accounts:Array(String)}", parameters={"accounts": sorted({e.account for e in erasures})})
    return {str(r[0]) for r in rows.result_rows}


def write_certificate(client: Client, db: str, erasure: Erasure, key: Shredding,
                      rows: Mapping[str, int], completed_at: datetime) -> None:
    row = [
        erasure.brand_id, erasure.player_id, erasure.account, erasure.request_id,
        erasure.requested_by or "", erasure.requested_at, erasure.erased_at, key.erased_at,
        key.existed, erasure.identifiers_removed, erasure.links_removed, len(erasure.click_ids),
        erasure.affiliate_id is not None, dict(rows), completed_at,
    ]
    client.insert(f"{db}.erasure_certificates", [row], column_names=list(CERTIFICATE_COLUMNS))
