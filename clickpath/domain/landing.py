"""Landing URL templates of campaigns: `https://brand.example/welcome?cid={click_id}&s1={sub1}`.

The tracker fills the macros (URL-encoded) when it redirects a click, and keeps the visit's UTM
parameters by appending them to the landing URL, where the operator's web analytics read them.
An unknown macro is a configuration error caught when settings or an admin change load, never
a broken redirect. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from clickpath.domain.postback_template import check_macros, render_template

SUBS = ("sub1", "sub2", "sub3", "sub4", "sub5")
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
LANDING_MACROS = frozenset({"click_id", *SUBS, "affiliate_id", "campaign_id", "brand_id", "tracking_code"})


def validate_landing_template(template: str) -> None:
    """Raise ValueError unless `template` is an http(s) URL whose macros are all known."""
    check_macros(template, LANDING_MACROS, "landing URL")
    if not urlsplit(render_template(template, {})).hostname:
        raise ValueError(f"landing URL has no host: {template!r}")


def render_landing_url(
    template: str, values: Mapping[str, str | None], utm: Mapping[str, str] | None = None
) -> str:
    """Fill the macros (URL-encoded; a macro with no value becomes empty) and append the UTM
    parameters the template does not already set: the campaign's own UTM values win."""
    url = render_template(template, values)
    if not utm:
        return url
    parts = urlsplit(url)
    present = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = [(k, v) for k, v in utm.items() if k not in present and v]
    if not extra:
        return url
    query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    return urlunsplit(parts._replace(query=query))


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL, as a browser's Origin header says it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")
