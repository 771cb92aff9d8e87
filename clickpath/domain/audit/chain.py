"""An audit entry, the hash that chains it to the one before, and the signed head.

Each entry's `hash` is SHA-256 over the previous entry's hash and the entry's canonical
serialisation (`canonical`: sorted keys, no spaces, UTF-8, the time in UTC to the
microsecond), so changing any field of any entry changes every hash after it. The head names
the last entry (seq and hash) and is signed with HMAC-SHA256 under the audit key: whoever
edits an entry and recomputes the hashes after it, or cuts entries off the end, cannot sign a
head that matches without the key.

Must never hold a secret or a raw personal value: `check_detail` refuses detail fields named
like credentials and values shaped like an API key's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64  # the `prev_hash` of entry 1
HEAD_DOMAIN = b"clickpath-audit-head-v1"  # so a head signature is never another HMAC's
DETAIL_MAX_BYTES = 8192  # config.changed holds every setting, shown (about 3 kB)

KINDS = frozenset({
    "plan.version_added",
    "catalogue.affiliate_changed",
    "catalogue.campaign_changed",
    "endpoint.changed",
    "key.created",
    "key.revoked",
    "identity.unmerge",
    "erasure.requested",
    "period.closed",
    "ledger.adjusted",
    "statement.paid",
    "config.changed",
    "journey.read",
    "consents.read",
    "export.read",
    "erasure_certificate.read",
    "audit.tail_adopted",
})

# A detail field with one of these names would be a credential: refused unless unset or a keyed
# fingerprint (`hmac:...`, as config.changed shows secrets).
_SECRET_NAMES = re.compile(r"(^|_)(secret|secrets|password|passwd|token|authorization|api_key)($|_)",
                           re.IGNORECASE)
_API_KEY_SECRET = re.compile(r"\bcpk_[0-9a-f]+_[A-Za-z0-9_-]{20,}")


class AuditRefused(ValueError):
    """An entry that must not be written: an unknown kind, or a detail that is not small, flat
    JSON without secrets."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str  # an API key id, `cli:<os user>`
    kind: str
    subject: str  # e.g. `brand-a:p-1`, a plan id, `affiliate:aff-1`
    detail: Mapping[str, Any]
    origin: str  # the HTTP client's address, `cli@<host>`
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {**_content(self.seq, self.at, self.actor, self.kind, self.subject, self.detail,
                           self.origin, self.prev_hash), "hash": self.hash}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditEntry:
        """Raises ValueError (KeyError, TypeError included) when `data` is not an entry."""
        detail = data["detail"]
        if not isinstance(detail, dict):
            raise ValueError("detail is not an object")
        at = datetime.fromisoformat(str(data["at"]))
        return cls(seq=int(data["seq"]), at=at, actor=str(data["actor"]), kind=str(data["kind"]),
                   subject=str(data["subject"]), detail=detail, origin=str(data["origin"]),
                   prev_hash=str(data["prev_hash"]), hash=str(data["hash"]))


@dataclass(frozen=True)
class Head:
    """The last entry's seq and hash (0 and GENESIS_HASH for an empty chain), signed."""

    seq: int
    hash: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "signature": self.signature}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Head:
        return cls(seq=int(data["seq"]), hash=str(data["hash"]), signature=str(data["signature"]))


def _instant(at: datetime) -> str:
    if at.tzinfo is None:
        raise AuditRefused("an entry's time must carry its time zone")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _content(seq: int, at: datetime, actor: str, kind: str, subject: str,
             detail: Mapping[str, Any], origin: str, prev_hash: str) -> dict[str, Any]:
    return {"seq": seq, "at": _instant(at), "actor": actor, "kind": kind, "subject": subject,
            "detail": dict(detail), "origin": origin, "prev_hash": prev_hash}


def canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def entry_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(content)).hexdigest()


def recomputed_hash(entry: AuditEntry) -> str:
    """What `entry`'s hash must be, from its fields and its prev_hash."""
    content = _content(entry.seq, entry.at, entry.actor, entry.kind, entry.subject, entry.detail,
                       entry.origin, entry.prev_hash)
    return entry_hash(entry.prev_hash, content)


def check_detail(detail: Mapping[str, Any]) -> None:
    """Refuse a detail that is not small JSON, names a credential or holds an API key secret."""
    def walk(value: Any, where: str) -> None:
        if isinstance(value, Mapping):
            for name, inner in value.items():
                if not isinstance(name, str):
                    raise AuditRefused(f"detail{where}: field names are strings")
                fingerprinted = inner is None or (isinstance(inner, str) and inner.startswith("hmac:"))
                if _SECRET_NAMES.search(name) and not fingerprinted:
                    raise AuditRefused(f"detail{where}.{name}: an audit entry never holds a secret")
                walk(inner, f"{where}.{name}")
        elif isinstance(value, list | tuple):
            for i, inner in enumerate(value):
                walk(inner, f"{where}[{i}]")
        elif isinstance(value, str):
            if _API_KEY_SECRET.search(value):
                raise AuditRefused(f"detail{where}: an audit entry never holds an API key")
        elif value is not None and not isinstance(value, bool | int | float):
            raise AuditRefused(f"detail{where}: {type(value).__name__} is not JSON")

    walk(detail, "")
    try:
        size = len(canonical(detail))
    except ValueError as e:  # NaN, infinity
        raise AuditRefused(f"detail: {e}") from None
    if size > DETAIL_MAX_BYTES:
        raise AuditRefused(f"detail: {size} bytes, over {DETAIL_MAX_BYTES}")


def next_entry(previous: AuditEntry | None, *, at: datetime, actor: str, kind: str, subject: str,
               detail: Mapping[str, Any], origin: str) -> AuditEntry:
    """The entry after `previous` (None: the first), chained to it."""
    if kind not in KINDS:
        raise AuditRefused(f"unknown audit kind {kind!r}")
    for name, value in (("actor", actor), ("subject", subject), ("origin", origin)):
        if not value or len(value) > 300 or any(ord(c) < 32 for c in value):
            raise AuditRefused(f"{name}: 1 to 300 printable characters")
    check_detail(detail)
    seq = previous.seq + 1 if previous else 1
    prev_hash = previous.hash if previous else GENESIS_HASH
    content = _content(seq, at, actor, kind, subject, detail, origin, prev_hash)
    return AuditEntry(seq=seq, at=at, actor=actor, kind=kind, subject=subject,
                      detail=json.loads(canonical(detail)), origin=origin, prev_hash=prev_hash,
                      hash=entry_hash(prev_hash, content))


def head_signature(seq: int, hash_: str, key: bytes) -> str:
    message = HEAD_DOMAIN + b"\n" + str(seq).encode() + b"\n" + hash_.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_head(last: AuditEntry | None, key: bytes) -> Head:
    seq, hash_ = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    return Head(seq=seq, hash=hash_, signature=head_signature(seq, hash_, key))


def head_is_signed(head: Head, key: bytes) -> bool:
    return hmac.compare_digest(head.signature, head_signature(head.seq, head.hash, key))
