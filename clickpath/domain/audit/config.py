"""The settings a role starts with, as `config.changed` records them: plain values by value,
secrets, collections and anything a URL password might hide in only as a keyed fingerprint.

`shown` is what the entry holds: an int, bool, float, None or short string as itself, and
`hmac:<16 hex>` (HMAC-SHA256 under the audit key) for a secret, a list or table (affiliates,
plans, mappings: large, and postback URLs may carry an affiliate's token) and a string that
`redact` would change. Two starts with the same settings show the same; the digest over them
tells whether a role's configuration changed since it was last recorded, and `changed_names`
which settings did.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from clickpath.domain.audit.chain import canonical
from clickpath.domain.redact import redact

SHORT_TEXT = 120


def fingerprint(value: Any, key: bytes) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return "hmac:" + hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:16]


def shown_settings(plain: Mapping[str, Any], secrets: Mapping[str, str | None],
                   key: bytes) -> dict[str, Any]:
    """Each setting as a `config.changed` entry shows it. `plain`: the non-secret settings as
    JSON values; `secrets`: the secret ones' values (None: unset)."""
    shown: dict[str, Any] = {}
    for name, value in plain.items():
        if _plain(value):
            shown[name] = value
        else:
            shown[name] = fingerprint(value, key)
    for name, secret in secrets.items():
        shown[name] = None if secret is None else fingerprint(secret, key)
    return dict(sorted(shown.items()))


def _plain(value: Any) -> bool:
    """Shown as itself: a number, a flag, nothing, or a short string with no password in it."""
    if value is None or isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and len(value) <= SHORT_TEXT and redact(value) == value


def digest(shown: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(shown)).hexdigest()


def changed_names(before: Mapping[str, Any] | None, now: Mapping[str, Any]) -> list[str]:
    """The settings whose shown value differs (every one when there is nothing before)."""
    if before is None:
        return sorted(now)
    return sorted(n for n in set(before) | set(now) if before.get(n, "<unset>") != now.get(n, "<unset>"))
