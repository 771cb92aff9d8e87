"""Standard Webhooks signatures (https://www.standardwebhooks.com/), for sending and for tests.

A receiver proves a webhook came from us, unchanged and recently: `webhook-signature` is
`v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>`, where the key is
the base64 part of a `whsec_…` secret. Several signatures separated by spaces let an endpoint
rotate its secret without a gap: we sign with the old and the new one until it switches.

Postbacks sign the whole request, not only the body: a GET postback has none, and its
conversion data is in the query, so a body-only signature would prove the id and the time and
nothing of the conversion. The signed payload of a postback is its canonical request,
`METHOD\npath\nquery\n` + body (`canonical_request`), in place of the body in the same
Standard Webhooks scheme and headers; docs/delivery.md shows a partner how to verify it.

Never log or store a secret through this module, and never compare signatures with `==`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, quote, unquote, urlsplit

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


def canonical_request(method: str, url: str, body: bytes = b"") -> bytes:
    """What a postback's signature covers: the method, the path and the query, canonical, and
    the body. Canonical so that a receiver rebuilds it from what its framework parsed, whatever
    re-encoding a proxy did on the way: the path and each query name and value decoded, then
    percent-encoded again with only RFC 3986 unreserved characters left as they are (`/` kept
    in the path); query parameters in the order sent (a tracker may read the first of two),
    a value-less one as `name=`. The host is not covered: proxies rewrite it, and the secret
    is the endpoint's own."""
    parts = urlsplit(url)
    path = quote(unquote(parts.path or "/"), safe="/")
    query = "&".join(
        f"{quote(name, safe='')}={quote(value, safe='')}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return f"{method.upper()}\n{path}\n{query}\n".encode() + body


def request_headers(secrets: Sequence[str], msg_id: str, timestamp: int, method: str, url: str,
                    body: bytes) -> dict[str, str]:
    """The signature headers of a postback: `headers` over its canonical request."""
    return headers(secrets, msg_id, timestamp, canonical_request(method, url, body))


def verify_request(secret: str, headers: Mapping[str, str], method: str, url: str, body: bytes,
                   now: float, tolerance_s: int = 300) -> None:
    """Check a received postback (`url`: the path and query received, or the whole URL)
    against `secret`; raise SignatureError unless it is genuine and recent."""
    verify(secret, headers, canonical_request(method, url, body), now, tolerance_s)


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
