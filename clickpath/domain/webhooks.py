"""Webhook events that no canonical event stands for, as records for the `webhooks` topic.

The delivery engine turns canonical events into `registration`, `ftd` and `kyc_changed`
webhooks itself; `qualified_cpa` (the commissions stage, when a player's CPA is paid) and
`statement_closed` (the period close, one per closed statement row) are made here, as
`Webhook` records the engine sends to every subscribed endpoint in scope. Each record's id is a
digest of what it reports, so the same event made again (a replay, a close published twice)
keeps its id, and so does every delivery of it (`webhook-id`): receivers drop the repeat.

Pure: no clock, no broker. The caller says when (`closed_at` is in the row).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clickpath.contracts.models import Webhook
from clickpath.contracts.money import format_amount
from clickpath.contracts.topics import Topic
from clickpath.domain.outputs import Output

# What every statement_closed payload has (StatementRow.as_json, plus what the close adds);
# any other key of a row is passed through as it is.
STATEMENT_KEYS = ("period", "affiliate_id", "currency", "total", "status", "invoice_number",
                  "closed_at", "closed_by")


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def qualified_cpa_webhook_id(person_id: str, affiliate_id: str) -> str:
    """The id of a player's `qualified_cpa` webhook for an affiliate: one per pair."""
    return _digest("qualified_cpa", person_id, affiliate_id)


def canonical_webhook_event(event_type: str, is_ftd: bool) -> str | None:
    """Which webhook event a canonical event is, if any (the delivery engine's jobs for
    webhook endpoints come from the canonical events)."""
    if event_type == "registration":
        return "registration"
    if event_type == "deposit" and is_ftd:
        return "ftd"
    if event_type == "kyc":
        return "kyc_changed"
    return None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def player_id_of(person_id: str, brand_id: str) -> str | None:
    """The operator's player id inside a brand account `brand_id:player_id`."""
    prefix = f"{brand_id}:"
    return person_id[len(prefix):] if person_id.startswith(prefix) else None


def qualified_cpa_webhook(
    *,
    person_id: str,
    brand_id: str,
    affiliate_id: str,
    campaign_id: str | None,
    click_id: str | None,
    qualified_at: datetime,
    period: str,
    payout: Decimal,
    payout_currency: str,
    plan: tuple[str, int],
    affiliate_block: str | None,
) -> Output:
    """The `qualified_cpa` webhook of a player's paid CPA, once per player and affiliate (the
    id says so). `affiliate_block`: why endpoints scoped to the affiliate may not get it (the
    player's consent or responsible gaming); operators' endpoints still do."""
    data = {
        "event": "qualified_cpa", "brand_id": brand_id, "affiliate_id": affiliate_id,
        "campaign_id": campaign_id, "click_id": click_id, "qualified_at": _iso(qualified_at),
        "period": period, "payout": format_amount(payout), "payout_currency": payout_currency,
        "plan_id": plan[0], "plan_version": plan[1],
    }
    record = Webhook(
        webhook_id=qualified_cpa_webhook_id(person_id, affiliate_id), event="qualified_cpa",
        affiliate_id=affiliate_id, brand_id=brand_id, person_id=person_id,
        player_id=player_id_of(person_id, brand_id), affiliate_block=affiliate_block,
        occurred_at=qualified_at, data=json.dumps(data, separators=(",", ":")),
    )
    return Output(Topic.WEBHOOKS, affiliate_id, record)


def statement_closed_webhooks(rows: Iterable[Mapping[str, Any]]) -> list[Webhook]:
    """One `statement_closed` webhook per closed statement row (a JSON row: amounts as decimal
    strings, times ISO 8601 UTC). The payload is the row, every key of it; the id is a digest
    of the affiliate, period, currency and `closed_at`, so the same close published again
    keeps its ids, while a period closed again after a reopen is a new event. A row without
    one of `STATEMENT_KEYS`, or whose `closed_at` is not a time, is refused (ValueError)."""
    made = []
    for row in rows:
        missing = [k for k in STATEMENT_KEYS if k not in row]
        if missing:
            raise ValueError(f"statement row: missing {', '.join(missing)}")
        closed_at = _parse_time(str(row["closed_at"]))
        affiliate, period, currency = str(row["affiliate_id"]), str(row["period"]), str(row["currency"])
        made.append(Webhook(
            webhook_id=_digest("statement_closed", affiliate, period, currency, _iso(closed_at)),
            event="statement_closed", affiliate_id=affiliate, occurred_at=closed_at,
            data=json.dumps({"event": "statement_closed", **row}, separators=(",", ":"),
                            default=_json_value),
        ))
    return made


def _parse_time(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"statement row: closed_at {text[:40]!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ValueError(f"statement row: closed_at {text[:40]!r} has no zone (give Z)")
    return at.astimezone(UTC)


def _json_value(value: object) -> str:
    """A row's values are JSON already; a Decimal or a time that slipped through is written
    the way the row's own are (decimal string, ISO 8601 UTC)."""
    if isinstance(value, Decimal):
        return format_amount(value)
    if isinstance(value, datetime):
        return _iso(value)
    raise TypeError(f"statement row: {type(value).__name__} is not a JSON value")
