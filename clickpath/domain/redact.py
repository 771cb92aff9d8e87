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
