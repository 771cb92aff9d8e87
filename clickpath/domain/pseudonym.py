"""Pseudonyms: made at ingress, so no raw e-mail, phone or IP travels past the door
(docs/architecture.md), and the player token affiliates see instead of a player id.

Keyed HMAC-SHA256 with the settings' pseudonym key: the same input gives the same pseudonym in
every process (identity links still work), and without the key it cannot be reversed by
hashing a list of candidate addresses.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """A pseudonym for `value` of `kind` (email, phone, ip...): the kind keeps namespaces apart."""
    return hmac.new(key, f"{kind}|{value}".encode(), hashlib.sha256).hexdigest()


def player_token(key: bytes, affiliate_id: str, person_id: str) -> str:
    """A pseudonymous player id that differs per affiliate, so affiliates cannot join theirs
    (postbacks, an affiliate manager's webhooks)."""
    return hmac.new(key, f"{affiliate_id}|{person_id}".encode(), hashlib.sha256).hexdigest()[:32]


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


def pseudonymise_ip(key: bytes, ip: str) -> tuple[str, str]:
    """(keyed hash, prefix) of an IP address; raises ValueError for something that is not one."""
    address = _address(ip)
    return keyed_hash(key, "ip", str(address)), ip_prefix(str(address))
