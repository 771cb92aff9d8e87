"""The subject-access export (`GET /v1/players/{player_id}/export`, docs/privacy.md): what
clickpath holds about one brand account, as JSON, shaped from rows clickpath/infra/subject_export.py
reads. It never reads ClickHouse, settings or a clock.

The account's identity, touchpoints and profile are the journey's (domain/identity/journey.py,
redacted the same way for a brand-bound key); its events come with their payload as stored;
consents are the consent log's (domain/consent_log.py). Deliveries are found by the ids
clickpath gives them, which derive from the player: a postback's from the account, affiliate
and what it reports (domain/postbacks.py), a webhook's from its event, and a delivery job's from
either and the endpoint, so nothing about the player has to be stored beside a delivery.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from clickpath.contracts.money import format_amount
from clickpath.domain.identity.journey import iso, plain
from clickpath.domain.postbacks import job_id, postback_id
from clickpath.domain.webhooks import canonical_webhook_event, qualified_cpa_webhook_id

DEFAULT_EVENTS = 1000
MAX_EVENTS = 10_000
"""The account's canonical events an export holds by default, and at most (`limit`)."""
MAX_DELIVERIES = 10_000
"""The most delivery jobs an export lists (`deliveries_truncated` says when there were more)."""
IDENTITY_FIELDS = ("person_id", "accounts", "links")
ATTRIBUTION_FIELDS = ("status", "reason", "affiliate_id", "campaign_id", "click_id", "sub1",
                      "sub2", "sub3", "sub4", "sub5", "clicked_at", "registered_at", "decided_at")


def export_payload(stored: str) -> Any:
    """An event's payload as the export gives it: the JSON the player stage stored (the event's
    fields beyond the promoted columns), the text itself when it is not JSON. The one place a
    payload enters the answer."""
    try:
        return orjson.loads(stored)
    except orjson.JSONDecodeError:
        return stored


def event_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One canonical event as exported: its columns (money a decimal string beside its
    currency, times ISO 8601 UTC) and its payload."""
    return {
        "event_id": row["event_id"], "event_type": row["event_type"],
        "occurred_at": iso(row["occurred_at"]), "received_at": iso(row["received_at"]),
        "processed_at": iso(row["processed_at"]), "source": row["source"],
        "click_id": row["click_id"] or None, "affiliate_id": row["affiliate_id"] or None,
        "campaign_id": row["campaign_id"] or None, "transaction_id": row["transaction_id"] or None,
        "amount": None if row["amount"] is None else format_amount(row["amount"]),
        "currency": row["currency"] or None, "is_ftd": bool(row["is_ftd"]),
        "payload": export_payload(row["payload"]),
    }


def rg_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One responsible-gaming event (self-exclusion, cool-off, deposit limit, closure)."""
    payload = export_payload(row["payload"])
    fields = payload if isinstance(payload, dict) else {}
    return {
        "event_id": row["event_id"], "occurred_at": iso(row["occurred_at"]),
        "source": row["source"], "kind": fields.get("kind"), "action": fields.get("action"),
        "until": fields.get("until"), "limit_amount": fields.get("limit_amount"),
        "currency": row["currency"] or None,  # promoted out of the payload, as for money
    }


def delivery_ids(
    account: str, affiliates: Iterable[str], events: Iterable[Mapping[str, Any]],
    endpoints: Iterable[Mapping[str, Any]],
) -> list[str]:
    """The job ids every delivery about the account can have: its postbacks to each of
    `affiliates`' postback endpoints (registration, ftd, qualified_cpa, each deposit of
    `events` and its reversal) and the suppressions of them (their postback id), its
    qualified_cpa webhooks and the webhooks its canonical events make, to each webhook
    endpoint. `endpoints`: rows `endpoint_id`, `kind`, `affiliate_id` of the delivery log."""
    credited = sorted(set(affiliates) - {""})
    deposits = sorted({e["transaction_id"] for e in events
                       if e["event_type"] == "deposit" and e["transaction_id"]})
    keys = ["registration", "ftd", "qualified_cpa",
            *(f"{kind}|{txn}" for txn in deposits for kind in ("deposit", "chargeback"))]
    postbacks = {a: [postback_id(account, a, k) for k in keys] for a in credited}
    webhooks = [qualified_cpa_webhook_id(account, a) for a in credited]
    for e in events:
        webhook = canonical_webhook_event(e["event_type"], bool(e["is_ftd"]))
        if webhook is not None:
            webhooks.append(f"{e['event_id']}|{webhook}")
    ids = [pid for ids_of in postbacks.values() for pid in ids_of]  # suppressed: endpoint '-'
    for endpoint in endpoints:
        if endpoint["kind"] == "webhook":
            ids += [job_id(source, endpoint["endpoint_id"]) for source in webhooks]
        else:
            ids += [job_id(pid, endpoint["endpoint_id"])
                    for pid in postbacks.get(endpoint["affiliate_id"], ())]
    return sorted(set(ids))


def delivery_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One delivery job: its last attempt's outcome, HTTP status and error, the attempts."""
    return {
        "job_id": row["job_id"], "endpoint_id": row["endpoint_id"], "kind": row["kind"],
        "event": row["event"], "affiliate_id": row["affiliate_id"] or None,
        "outcome": row["outcome"], "status": row["status"], "error": row["error"] or None,
        "attempts": int(row["attempts"]), "first_at": iso(row["first_at"]),
        "last_at": iso(row["last_at"]),
    }


@dataclass(frozen=True)
class ExportRows:
    """What the export holds, as read: `journey` the journey's answer for the key, `events`
    the account's canonical events oldest first, `consents` the consent log's answer."""

    journey: Mapping[str, Any]
    events: Sequence[Mapping[str, Any]]
    events_truncated: bool
    consents: Mapping[str, Any]
    attribution: Mapping[str, Any] | None
    responsible_gaming: Sequence[Mapping[str, Any]]
    responsible_gaming_truncated: bool
    deliveries: Sequence[Mapping[str, Any]]
    deliveries_truncated: bool


def export_answer(rows: ExportRows, exported_at: str) -> dict[str, Any]:
    """The export's JSON; `truncated` when events, consent or responsible-gaming changes, or
    deliveries were left out."""
    journey, profile = rows.journey, rows.journey.get("profile")
    return {
        "brand_id": journey["brand_id"],
        "player_id": journey["player_id"],
        "exported_at": exported_at,
        "profile": profile,
        "identity": {name: journey[name] for name in IDENTITY_FIELDS},
        "events": [event_view(e) for e in rows.events],
        "consents": {name: rows.consents[name] for name in ("current", "history")},
        "touchpoints": journey["touchpoints"],
        "attribution": None if rows.attribution is None else {
            name: plain(rows.attribution[name]) for name in ATTRIBUTION_FIELDS},
        "responsible_gaming": {
            "active": (profile or {}).get("rg_active") or [],
            "history": [rg_view(r) for r in rows.responsible_gaming],
        },
        "deliveries": [delivery_view(d) for d in rows.deliveries],
        "truncated": rows.events_truncated or rows.deliveries_truncated
        or rows.responsible_gaming_truncated or bool(rows.consents.get("history_truncated")),
        "events_truncated": rows.events_truncated,
        "deliveries_truncated": rows.deliveries_truncated,
    }
