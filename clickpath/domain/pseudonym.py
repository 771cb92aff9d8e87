"""Pseudonyms made at ingress, so no raw e-mail, phone or IP travels past the door (docs/architecture.md).

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


def normalise_email(email: str) -> str:
    return email.strip().lower()


def normalise_phone(phone: str) -> str:
    """Digits only, with a leading + kept: "+44 20 7946-0958" and "+442079460958" match."""
    phone = phone.strip()
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"+{digits}" if phone.startswith("+") else digits


def ip_prefix(ip: str) -> str:
    """The network an address is in, coarse enough not to name a household: /24 or /48."""
    address = ipaddress.ip_address(ip.strip())
    bits = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


def pseudonymise_ip(key: bytes, ip: str) -> tuple[str, str]:
    """(keyed hash, prefix) of an IP address; raises ValueError for something that is not one."""
    address = ipaddress.ip_address(ip.strip())
    return keyed_hash(key, "ip", str(address)), ip_prefix(str(address))
