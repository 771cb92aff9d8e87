"""Personal data outside the fields made for it: one check for every door (docs/security.md).

A registration's `email`, `phone` and `ip` (and a click's or login's `ip`) are pseudonymised at
the door (connectors/ingress.py). Anywhere else (`attributes`, ids, sub ids, a value a source
mapping derived or kept) a raw e-mail address, phone number or IP address would reach the topics
and ClickHouse as it was sent, so it is refused, naming the field: the sender drops it, sends
it in the field made for it, or sends its own pseudonym. Refused rather than hashed in place,
because a value that only looks personal (a false positive) is better named back to its sender
than silently replaced, and a pseudonym in a free-form attribute would link nothing.

What counts, under any field or attribute name:
- an e-mail address anywhere in the text (`name@host.tld`);
- a phone number in international form: `+` and 8 to 15 digits, with spaces, dashes or
  parentheses (a plain digit string is far more often an id; under a name that says phone,
  mobile, msisdn or tel, any value with 7 or more digits);
- an IPv4 or IPv6 address as the value or as one word of it, also with a port (`1.2.3.4:443`);
- any non-empty value under a name that says e-mail, phone or IP (`email`, `user_phone`, `ip`).
Pure: no I/O, no key; `find_personal` is cheap enough for the tracker's hot path (a value
without '@', '+', ':' or three dots costs a few `in` tests).

A browser's own headers and properties (the user agent, `navigator.platform`) cannot be refused:
the visitor did not choose them and cannot send them again. `mask_personal` keeps them with what
looks like an e-mail, phone or IP replaced (a crawler's user agent names its contact address,
some clients put their host's address in it).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
PHONE_RE = re.compile(r"\+[\s(]*\d(?:[\s()-]*\d){7,14}")
# A reduced user agent's product version (`Chrome/120.0.0.0`, `Edg/120.0.0.0`: every Chrome
# since 2023 sends one) reads as a dotted quad; after a product name it is a version, not a host.
_REDUCED_VERSION_RE = re.compile(r"(?<=[A-Za-z])/\d{1,3}\.0\.0\.0(?![\d.])")
_WORDS_RE = re.compile(r"[\s,;=&?/\"'<>()\[\]]+")
_NAMES = {
    "e-mail address": re.compile(r"(^|[^a-z])e?-?mail([^a-z]|$)|email"),
    "phone number": re.compile(r"phone|mobile|msisdn|(^|[^a-z])tel([^a-z]|$)"),
    "IP address": re.compile(r"(^|[^a-z])ip(v[46])?([^a-z]|$)|ip_?address"),
}
# Top-level fields whose values are pseudonyms or networks made by a door, never raw data: their
# typed validators (contracts/models.py, Pseudonym and IpPrefix) refuse anything else, a
# versioned pseudonym (`v2.` and 64 hex digits, docs/privacy.md#pseudonym-key-rotation) included. Nested
# (in `attributes`, free text) the same names get no such check, so they are looked at there.
PSEUDONYM_FIELDS = frozenset({"email_hash", "phone_hash", "ip_hash", "ip_prefix", "player_token",
                              "previous_email_hash", "previous_phone_hash"})


@dataclass(frozen=True)
class PersonalData(ValueError):
    """A raw e-mail, phone or IP where none may be: the field (dotted path) and what it looks like."""

    field: str
    kind: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"

    @property
    def reason(self) -> str:
        return (f"holds what looks like {article(self.kind)} {self.kind}: personal data is not "
                "accepted here (only a registration's email, phone and ip fields, and a click's "
                "or login's ip, which the door pseudonymises); leave it out or send a pseudonym")


def article(kind: str) -> str:
    return "an" if kind[0] in "aeiouAEIOU" else "a"


def kind_of_value(value: str, name: str = "") -> str | None:
    """What personal data `value` (under the field or attribute `name`) looks like, if any."""
    if not value:
        return None
    if name and (kind := _kind_of_name(name)) is not None and value.strip():
        return kind
    if "@" in value and EMAIL_RE.search(value):
        return "e-mail address"
    if "+" in value and PHONE_RE.search(value):
        return "phone number"
    if value.count(".") >= 3 or ":" in value:
        for word in _WORDS_RE.split(_REDUCED_VERSION_RE.sub("/", value)):
            if (word.count(".") == 3 or word.count(":") >= 2) and _is_ip(word):
                return "IP address"
    return None


@lru_cache(maxsize=4096)
def _kind_of_name(name: str) -> str | None:
    """What a field or attribute name says it holds; cached, since an event's few dozen names
    repeat on every event (bounded: attribute names come from senders)."""
    lowered = name.lower()
    for kind, pattern in _NAMES.items():
        if pattern.search(lowered):
            return kind
    return None


# Only hex digits, dots, colons and brackets can make an address (with a port): a timestamp's
# two colons (`21:10:55`) are turned away here, before a costly failed ip_address().
_IP_CHARS_RE = re.compile(r"[0-9A-Fa-f.:\[\]]+")


_WITH_PORT_RE = re.compile(r"(?:\[(?P<v6>[^\]]+)\]|(?P<v4>[\d.]+)):\d{1,5}")


def _is_ip(word: str) -> bool:
    """An IP address, also with a port (`198.51.100.23:443`, `[2001:db8::1]:443`)."""
    if _IP_CHARS_RE.fullmatch(word) is None:
        return False
    if (with_port := _WITH_PORT_RE.fullmatch(word)) is not None:
        word = with_port["v6"] or with_port["v4"]
    try:
        ipaddress.ip_address(word.strip("[]"))
    except ValueError:
        return False
    return True


MASKS = {"e-mail address": "[e-mail]", "phone number": "[phone]", "IP address": "[ip]"}
# Runs of the characters an IP address (with a port, in brackets) is made of: the candidates.
_IP_RUN_RE = re.compile(r"[0-9A-Fa-f.:\[\]]+")


def mask_personal(text: str) -> str:
    """`text` with every e-mail address, international phone number and IP address in it (by
    the rules above) replaced by a mask naming what it was; the rest kept as it was. A reduced
    user agent's `Chrome/120.0.0.0` is a version, and stays."""
    if "@" in text:
        text = EMAIL_RE.sub(MASKS["e-mail address"], text)
    if "+" in text:
        text = PHONE_RE.sub(MASKS["phone number"], text)
    if text.count(".") >= 3 or ":" in text:
        text = _IP_RUN_RE.sub(lambda m: _mask_ip(text, m), text)
    return text


def _mask_ip(text: str, run: re.Match[str]) -> str:
    word = run[0].rstrip(".:")  # an address at the end of a sentence or before a colon
    if not (word.count(".") == 3 or word.count(":") >= 2) or not _is_ip(word):
        return run[0]
    if _REDUCED_VERSION_RE.match(text, run.start() - 1) is not None:
        return run[0]
    return MASKS["IP address"] + run[0][len(word):]


def find_personal(
    values: Mapping[str, Any], allowed: Iterable[str] = (), prefix: str = ""
) -> PersonalData | None:
    """The first field of `values` (nested mappings such as `attributes` included, by dotted
    path) that holds personal data; `allowed`: top-level fields made for it (the raw identifiers
    the door will pseudonymise). PSEUDONYM_FIELDS are skipped only at the top level, where
    their validators check them. Only text is looked at: numbers, times and booleans are not."""
    skip = PSEUDONYM_FIELDS.union(allowed) if not prefix else frozenset()
    for name, value in values.items():
        if not isinstance(name, str) or name in skip:
            continue
        path = f"{prefix}{name}"
        if isinstance(value, str):
            kind = kind_of_value(value, name)
            if kind is not None:
                return PersonalData(path, kind)
        elif isinstance(value, Mapping):
            for key in value:  # a name can itself be an address ({"ann@example.com": "vip"})
                if isinstance(key, str) and (kind := kind_of_value(key)) is not None:
                    return PersonalData(f"{path}.{key[:40]}", kind)
            found = find_personal(value, prefix=f"{path}.")
            if found is not None:
                return found
    return None


def refuse_personal(values: Mapping[str, Any], allowed: Iterable[str] = ()) -> None:
    """Raise `PersonalData` naming the first field of `values` that holds personal data."""
    found = find_personal(values, allowed)
    if found is not None:
        raise found
