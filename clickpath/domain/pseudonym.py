"""Pseudonyms: made at ingress, so no raw e-mail, phone or IP travels past the door
(docs/architecture.md), and the player token affiliates see instead of a player id.

Keyed HMAC-SHA256 with the settings' pseudonym key: the same input gives the same pseudonym in
every process (identity links still work), and without the key it cannot be reversed by
hashing a list of candidate addresses.

The key rotates (docs/privacy.md#pseudonym-key-rotation): every key has a version, and a
pseudonym made with a key of version N > 1 starts with `vN.`; one of version 1 has no marker,
so the pseudonyms made before rotation existed stay byte for byte what they were. A `Keyring`
says which key applies at a given time and, during the grace period after a new key's start,
which previous one the doors also hash with. Person ids and player tokens do not rotate: they
are made with one pinned key (settings.pseudonym_stable_key), never with the keyring's current.
Pure: the time is the caller's.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# A pseudonym or token of a key version above 1: `v<N>.` before the digest. A dot, not a colon
# or `|`: identifier keys are `operator|kind|value` and account keys `brand:player`, and a
# token goes into postback URLs, where a dot is never escaped.
_MARKED = re.compile(r"^v([1-9][0-9]*)\.")


def marked(digest: str, version: int) -> str:
    """`digest` as a pseudonym of key `version`: unmarked for version 1 (as before rotation)."""
    if version < 1:
        raise ValueError("key versions start at 1")
    return digest if version == 1 else f"v{version}.{digest}"


def version_of(pseudonym: str) -> int:
    """The key version a pseudonym or token was made with (1 when it has no marker)."""
    match = _MARKED.match(pseudonym)
    return int(match.group(1)) if match else 1


@dataclass(frozen=True, slots=True)
class PseudonymKey:
    """One key of the keyring and its version; the secret never shows in a repr."""

    version: int
    secret: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Keyring:
    """The identifier keys: `current` applies from `started_at` (always, when None); before it,
    the newest of `previous` (the key it replaces) still applies. For `grace` after the start,
    the doors also hash with that previous key, so an identifier seen before the rotation and
    one seen during the grace period still meet in the identity graph."""

    current: PseudonymKey
    previous: tuple[PseudonymKey, ...] = ()
    started_at: datetime | None = None
    grace: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        versions = [k.version for k in self.previous] + [self.current.version]
        if versions != sorted(set(versions)):
            raise ValueError("key versions must be unique, the previous ones below the current")

    @classmethod
    def single(cls, secret: bytes) -> Keyring:
        """One key of version 1 and no rotation: the keyring of a pipeline that never rotated."""
        return cls(current=PseudonymKey(1, secret))

    def applying(self, at: datetime) -> PseudonymKey:
        """The key whose pseudonyms an event received at `at` carries."""
        if self.started_at is not None and at < self.started_at and self.previous:
            return self.previous[-1]
        return self.current

    def graced(self, at: datetime) -> PseudonymKey | None:
        """The previous key the doors also hash with at `at` (its grace period), else None."""
        if self.started_at is None or not self.previous:
            return None
        if self.started_at <= at < self.started_at + self.grace:
            return self.previous[-1]
        return None

    def ip(self, ip: str, at: datetime) -> tuple[str, str]:
        """(keyed hash under the key applying `at`, prefix) of an IP address; ValueError for
        something that is not one. No grace-period hash: nothing links on `ip_hash`."""
        key = self.applying(at)
        return pseudonymise_ip(key.secret, ip, key.version)

    def hashes(self, kind: str, value: str, at: datetime) -> tuple[str, str | None]:
        """(the applying key's pseudonym of `value`, the graced previous key's or None)."""
        current = self.applying(at)
        previous = self.graced(at)
        return (keyed_hash(current.secret, kind, value, current.version),
                None if previous is None else keyed_hash(previous.secret, kind, value,
                                                         previous.version))


def as_keyring(key: bytes | Keyring) -> Keyring:
    """A keyring as given, or a bare key as version 1 alone (tests, a pipeline never rotated)."""
    return key if isinstance(key, Keyring) else Keyring.single(key)


def keyed_hash(key: bytes, kind: str, value: str, version: int = 1) -> str:
    """A pseudonym for `value` of `kind` (email, phone, ip...): the kind keeps namespaces apart;
    `version`: the key's (marked when above 1)."""
    return marked(hmac.new(key, f"{kind}|{value}".encode(), hashlib.sha256).hexdigest(), version)


def player_token(key: bytes, affiliate_id: str, person_id: str, version: int = 1) -> str:
    """A pseudonymous player id that differs per affiliate, so affiliates cannot join theirs
    (postbacks, an affiliate manager's webhooks). `key` is the pinned token key, not the
    rotating identifier key: a player's token must never change (ledgers, postbacks)."""
    digest = hmac.new(key, f"{affiliate_id}|{person_id}".encode(), hashlib.sha256).hexdigest()[:32]
    return marked(digest, version)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def normalise_phone(phone: str) -> str:
    """Digits only, with a leading + kept: "+44 20 7946-0958" and "+442079460958" match."""
    phone = phone.strip()
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"+{digits}" if phone.startswith("+") else digits


# The prefix kept next to an IP's keyed hash. A /24 beside the hash let whoever holds the key
# recover the address in 256 HMACs; a /16 (/32 for IPv6, a provider's allocation) names a
# region or provider, not a household, and leaves 65,536 candidates (docs/security.md).
IPV4_PREFIX_BITS = 16
IPV6_PREFIX_BITS = 32


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address, with an IPv4 client seen on a dual-stack socket (::ffff:a.b.c.d) as IPv4:
    otherwise every such client would share one IPv6 prefix and one hash space."""
    address = ipaddress.ip_address(ip.strip())
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def ip_prefix(ip: str) -> str:
    """The network an address is in, coarse enough not to name a household or a subscriber:
    /16 for IPv4, /32 for IPv6."""
    address = _address(ip)
    bits = IPV4_PREFIX_BITS if address.version == 4 else IPV6_PREFIX_BITS
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


def pseudonymise_ip(key: bytes, ip: str, version: int = 1) -> tuple[str, str]:
    """(keyed hash, prefix) of an IP address; raises ValueError for something that is not one."""
    address = _address(ip)
    return keyed_hash(key, "ip", str(address), version), ip_prefix(str(address))
