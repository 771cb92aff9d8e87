"""Standard Webhooks signatures (https://www.standardwebhooks.com/), for sending and for tests.

A receiver proves a webhook came from us, unchanged and recently: `webhook-signature` is
`v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>`, where the key is
the base64 part of a `whsec_…` secret. Several signatures separated by spaces let an endpoint
rotate its secret without a gap: we sign with the old and the new one until it switches.

Never log or store a secret through this module, and never compare signatures with `==`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"
VERSION = "v1"


class SignatureError(ValueError):
    """A webhook that does not verify: missing headers, bad or no matching signature, stale."""


def new_secret() -> str:
    """A fresh endpoint secret: 24 random bytes, as the spec's `whsec_` + base64."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(24)).decode("ascii")


def _key(secret: str) -> bytes:
    """The HMAC key in a secret; the `whsec_` prefix is optional, as in the reference libraries."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("webhook secret is not base64 after its whsec_ prefix") from None
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature, `v1,<base64>`, of `body` sent as message `msg_id` at Unix time `timestamp`."""
    digest = hmac.new(_key(secret), _signed_content(msg_id, timestamp, body), hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per active secret, space-separated."""
    if not secrets:
        raise ValueError("an endpoint needs at least one webhook secret")
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a Standard Webhooks request carries.

    `msg_id` must stay the same on every retry of one message: receivers drop repeats by it.
    """
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance_s: int = 300,
) -> None:
    """Check a received webhook against `secret`; raise SignatureError unless it is genuine.

    The timestamp must be within `tolerance_s` of `now` (Unix seconds: a receiver passes
    `time.time()`) in either direction, which bounds how long a captured request can be replayed.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = (
        lower.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not msg_id or not stamp or not signatures:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer") from None
    if timestamp < now - tolerance_s:
        raise SignatureError("webhook-timestamp is too old")
    if timestamp > now + tolerance_s:
        raise SignatureError("webhook-timestamp is too far in the future")
    expected = sign(secret, msg_id, timestamp, body).encode()
    # Check every candidate, without stopping early, so timing says nothing about which matched.
    matched = False
    for candidate in signatures.split():
        matched |= hmac.compare_digest(candidate.encode(), expected)
    if not matched:
        raise SignatureError("no matching signature")
