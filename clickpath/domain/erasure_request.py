"""Asking for an erasure and reading what it did (docs/privacy.md#erasure): the
`erasure_request` event the HTTP route and `clickpath player erase` both produce, its id, and
the certificate's one-sentence statement. Pure: the caller gives the time and the ids.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, Final

from clickpath.contracts.models import ErasureRequest
from clickpath.domain.personal import PersonalData, find_personal

REQUESTED_BY_MAX_CHARS: Final = 200
REASON_MAX_CHARS: Final = 500
IDEMPOTENCY_KEY_MAX_CHARS: Final = 128


def erasure_event_id(brand_id: str, player_id: str, idempotency_key: str | None = None) -> str:
    """A fresh `er_<uuid hex>`, or, for a caller's idempotency key, the same id every time it
    asks again (the pipeline dedups by event_id, so a retried request is one request)."""
    if idempotency_key is None:
        return f"er_{uuid.uuid4().hex}"
    digest = hashlib.sha256(f"{brand_id}|{player_id}|{idempotency_key}".encode()).hexdigest()
    return f"er_{digest[:32]}"


def erasure_request(
    brand_id: str, player_id: str, *, requested_by: str, reason: str | None, now: datetime,
    event_id: str, source: str,
) -> ErasureRequest:
    """The ingress event asking to erase `brand_id:player_id`; PersonalData (naming the field)
    when `requested_by` or `reason` holds a raw e-mail, phone or IP: the request about
    forgetting a person must not carry one. The reason rides in `attributes`."""
    found = find_personal({"requested_by": requested_by, "reason": reason or ""})
    if found is not None:
        raise found
    attributes = {"reason": reason} if reason else {}
    return ErasureRequest(event_id=event_id, occurred_at=now, received_at=now, brand_id=brand_id,
                          source=source, player_id=player_id, requested_by=requested_by,
                          attributes=attributes)


def certificate_statement(certificate: dict[str, Any]) -> str:
    """What the certificate says, in one sentence a DPO can paste into an answer."""
    rows = certificate.get("rows_anonymised") or {}
    anonymised = sum(int(n) for n in rows.values())
    if certificate.get("key_existed"):
        key = f"its key was destroyed at {certificate.get('key_destroyed_at')}"
    else:
        key = "it had no key of its own to destroy"
    revoked = ("deliveries to its affiliate revoked" if certificate.get("deliveries_revoked")
               else "no affiliate deliveries to revoke")
    return (f"The personal data of player {certificate['player_id']} at brand"
            f" {certificate['brand_id']} was erased on {certificate['completed_at']}: {key},"
            f" {certificate['identifiers_removed']} identifiers and"
            f" {certificate['links_removed']} links removed from the identity graph,"
            f" {anonymised} rows anonymised in ClickHouse, {revoked}.")


__all__ = ["PersonalData", "certificate_statement", "erasure_event_id", "erasure_request"]
