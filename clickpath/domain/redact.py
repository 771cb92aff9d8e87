"""Secrets out of text before it is printed, logged or put in an error: one function for all.

A DSN such as `http://user:secret@clickhouse:8123/?password=secret` becomes
`http://user:***@clickhouse:8123/?password=***`. It works on a DSN alone and on any message that
quotes one (a driver's error, a log line), so callers redact the text they are about to show.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:password@  (the password is everything up to the last @ before the host)
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)(?P<secret>[^\s/?#]*)(?P<at>@)")
# ?password=... &sasl_password=... token=... secret=... key=... in query strings and key=value text
_PARAM = re.compile(
    r"(?P<head>(?:[?&;]|\b)(?:[A-Za-z_]*password|passwd|pwd|secret|token|api_key|access_key)=)"
    r"(?P<secret>[^&\s'\"]+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with every URL password and every `password=`/`secret=`/`token=` value masked."""
    text = _USERINFO.sub(lambda m: f"{m['head']}{MASK}{m['at']}" if m["secret"] else m[0], text)
    return _PARAM.sub(lambda m: f"{m['head']}{MASK}", text)


_CREDENTIAL_NAME = re.compile(
    r"pass|pwd|secret|token|key|auth|sig|hash|session|credential", re.IGNORECASE
)
_MACRO_ONLY = re.compile(r"^\{[A-Za-z0-9_]+\}$")


def credential_name(name: str) -> bool:
    """Whether a query parameter (or preset override) named `name` may carry a credential."""
    return bool(_CREDENTIAL_NAME.search(name))


def mask_url(url: str) -> str:
    """A URL or postback template fit to show its owner again: the user info masked whole, and
    the value of every parameter whose name may be a credential (a macro such as `{click_id}`
    is left: it is filled per postback, not a secret). Stricter than `redact`, which keeps user
    names and masks only the parameters it knows."""
    head, sep, rest = url.partition("://")
    if not sep:
        head, rest = "", url
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        authority = f"{MASK}@{authority.rsplit('@', 1)[1]}"
    path, qmark, query = tail.partition("?")
    query, hash_, fragment = query.partition("#")

    def masked(pair: str) -> str:
        name, eq, value = pair.partition("=")
        if eq and value and credential_name(name) and not _MACRO_ONLY.match(value):
            return f"{name}={MASK}"
        return pair

    if qmark:
        query = "&".join(masked(p) for p in query.split("&"))
    prefix = f"{head}{sep}" if sep else ""
    return f"{prefix}{authority}{path}{qmark}{query}{hash_}{fragment}"
