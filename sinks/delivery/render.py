"""What one delivery sends: method, URL, headers and body, from an endpoint and a record.

Postbacks fill the endpoint's URL template (a preset's: the one for the postback's event,
docs/postback-presets.md) with the conversion's macros (URL-encoded) and,
for POST, send the same values as a form or JSON body. Webhooks POST a JSON envelope
(`type`, `timestamp`, `data`). Every request carries the delivery's stable id (`webhook-id`
and `Idempotency-Key`), so a receiver drops repeats of retries and replays; with a secret the
request is signed the Standard Webhooks way (several signatures while a secret is rotated): a
webhook's body, a postback's whole request (`signing.canonical_request`: method, path, query
and body), since a GET postback carries its conversion in the query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from clickpath.contracts.models import CanonicalEvent, DeliveryJob, Postback, Record, Webhook
from clickpath.contracts.money import format_amount
from clickpath.domain import presets, signing
from clickpath.domain.endpoints import POSTBACK_EVENTS, Endpoint
from clickpath.domain.postback_template import render_template
from clickpath.domain.pseudonym import player_token

USER_AGENT = "clickpath-delivery/0.1"


@dataclass(frozen=True)
class OutboundRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""


def request_for(endpoint: Endpoint, job: DeliveryJob, record: Record, pseudonym_key: bytes,
                now: datetime) -> OutboundRequest | None:
    """The request a job sends to `endpoint` (`record`: the job's record, decoded), or None
    when the record is nothing this endpoint is sent. An affiliate manager's webhook gets the
    per-affiliate player token (made with `pseudonym_key`) instead of the player id."""
    if isinstance(record, Postback):
        return render_postback(endpoint, record, job.job_id, now)
    if isinstance(record, CanonicalEvent):
        token = None
        if endpoint.affiliate_id is not None:
            token = player_token(pseudonym_key, endpoint.affiliate_id, record.person_id)
        return render_webhook(endpoint, job.event, webhook_data(record, job.event, token), job.job_id, now)
    if isinstance(record, Webhook):
        return render_webhook(endpoint, record.event, webhook_record_data(record, endpoint, pseudonym_key),
                              job.job_id, now, WEBHOOK_TYPES.get(record.event))
    return None


# The envelope `type` of a Webhook record's events (a canonical event's is `player.<event>`)
WEBHOOK_TYPES = {"qualified_cpa": "player.qualified_cpa", "statement_closed": "statement.closed"}


def webhook_record_data(record: Webhook, endpoint: Endpoint, pseudonym_key: bytes) -> dict[str, Any]:
    """A `Webhook` record's `data`, with its player as the endpoint may see it: the player id
    for an operator's endpoint, the per-affiliate token for one scoped to an affiliate."""
    data: dict[str, Any] = json.loads(record.data)
    if record.person_id is not None:
        if endpoint.affiliate_id is None:
            data["player_id"] = record.player_id
        else:
            data["player_token"] = player_token(pseudonym_key, endpoint.affiliate_id, record.person_id)
    return data


SAMPLE_AT = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def sample_postback(endpoint: Endpoint, event: str) -> Postback:
    """A sample conversion for `clickpath postbacks test`: an FTD (or `event`) of 50.00 EUR,
    transaction sample-txn-1; a chargeback reverses that FTD; a qualified_cpa pays 50.00 EUR."""
    if event not in POSTBACK_EVENTS:
        raise ValueError(f"event: unknown {event!r}; a postback is one of {', '.join(POSTBACK_EVENTS)}")
    money = event not in ("registration", "qualified_cpa")
    cpa = event == "qualified_cpa"  # a CPA of 50.00 EUR paid: the payout, no deposit
    return Postback(
        postback_id="sample-postback-id", affiliate_id=endpoint.affiliate_id or "sample-affiliate",
        campaign_id="sample-campaign", brand_id="sample-brand", event=event,
        click_id="sample-click-id", sub1="sample-click-id", player_token="sample-player-token",
        amount=Decimal("50.00") if money else None, currency="EUR" if money or cpa else None,
        transaction_id="sample-txn-1" if money else None, occurred_at=SAMPLE_AT,
        reverses="ftd" if event == "chargeback" else None,
        payout=Decimal("50.00") if cpa else None, payout_currency="EUR" if cpa else None,
    )


def sample_request(endpoint: Endpoint, event: str = "ftd") -> OutboundRequest:
    """The request `endpoint` would get for a sample `event`, built as a delivery builds it;
    ValueError when its preset cannot send that event (a reversal, a goal not given)."""
    postback = sample_postback(endpoint, event)
    if endpoint.preset is not None:
        presets.check(endpoint.preset, endpoint.url, endpoint.params, [event])
    return render_postback(endpoint, postback, "sample-delivery-id", SAMPLE_AT)


def postback_values(p: Postback) -> dict[str, str | None]:
    """The macros of a postback (docs/delivery.md); `{payout}`: a qualified_cpa's CPA, else empty."""
    return {
        "click_id": p.click_id,
        "sub1": p.sub1, "sub2": p.sub2, "sub3": p.sub3, "sub4": p.sub4, "sub5": p.sub5,
        "event": p.event,
        "amount": format_amount(p.amount) if p.amount is not None else None,
        "currency": p.currency,
        "payout": format_amount(p.payout) if p.payout is not None else None,
        "player_token": p.player_token,
        "transaction_id": p.transaction_id,
        "timestamp": str(int(p.occurred_at.astimezone(UTC).timestamp())),
        "affiliate_id": p.affiliate_id,
        "campaign_id": p.campaign_id,
        "brand_id": p.brand_id,
        "postback_id": p.postback_id,
    }


def webhook_data(e: CanonicalEvent, event: str, player_token: str | None) -> dict[str, Any]:
    """The webhook's `data`: operators get their own player id; an affiliate manager's
    endpoint gets the per-affiliate player token instead (docs/architecture.md)."""
    data: dict[str, Any] = {
        "event_id": e.event_id, "event": event, "brand_id": e.brand_id,
        "occurred_at": e.occurred_at.isoformat(), "affiliate_id": e.affiliate_id,
        "campaign_id": e.campaign_id, "click_id": e.click_id, "transaction_id": e.transaction_id,
        "amount": format_amount(e.amount) if e.amount is not None else None,
        "currency": e.currency,
    }
    if player_token is None:
        data["player_id"] = e.player_id
    else:
        data["player_token"] = player_token
    if e.event_type == "kyc":
        data["kyc_status"] = json.loads(e.payload).get("status")
    return data


def render_postback(endpoint: Endpoint, p: Postback, job_id: str, now: datetime) -> OutboundRequest:
    values = postback_values(p)
    url = render_template(endpoint.template_for(p.event, p.reverses), values)
    if endpoint.preset is not None:
        url = _without_empty_parameters(url)
    headers = {"user-agent": USER_AGENT, "idempotency-key": job_id}
    content = b""
    if endpoint.method == "POST":
        present = {k: v for k, v in values.items() if v is not None}
        if endpoint.body == "json":
            content = json.dumps(present, separators=(",", ":")).encode()
            headers["content-type"] = "application/json"
        elif endpoint.body == "form":
            content = urlencode(present).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
    # The whole request is signed: a GET postback's conversion data is all in its query.
    _sign(endpoint, job_id, now, signing.canonical_request(endpoint.method, url, content), headers)
    return OutboundRequest(endpoint.method, url, headers, content)


def _without_empty_parameters(url: str) -> str:
    """A preset's URL without the parameters left empty (a registration has no amount): a
    tracker may read `txid=` as a transaction id that is the empty string."""
    parts = urlsplit(url)
    kept = [pair for pair in parts.query.split("&") if pair and not pair.endswith("=")]
    return urlunsplit(parts._replace(query="&".join(kept)))


def render_webhook(endpoint: Endpoint, event: str, data: dict[str, Any], job_id: str,
                   now: datetime, kind: str | None = None) -> OutboundRequest:
    envelope = {"type": kind or f"player.{event}", "timestamp": now.isoformat(), "data": data}
    content = json.dumps(envelope, separators=(",", ":")).encode()
    headers = {"user-agent": USER_AGENT, "idempotency-key": job_id,
               "content-type": "application/json"}
    _sign(endpoint, job_id, now, content, headers)
    return OutboundRequest("POST", endpoint.url, headers, content)


def _sign(endpoint: Endpoint, job_id: str, now: datetime, signed: bytes, headers: dict[str, str]) -> None:
    """Sign `signed` (a webhook's body, a postback's canonical request) with every active secret."""
    secrets = [s for s in [endpoint.secret, *endpoint.previous_secrets] if s]
    if secrets:
        headers.update(signing.headers(secrets, job_id, int(now.timestamp()), signed))
    else:
        headers["webhook-id"] = job_id
