"""Landing URL templates of campaigns: `https://brand.example/welcome?cid={click_id}&s1={sub1}`.

The tracker fills the macros (URL-encoded) when it redirects a click, and keeps the visit's UTM
parameters by appending them to the landing URL, where the operator's web analytics read them.
An unknown macro, or a macro in the host (an open redirect), is a configuration error caught
when settings or an admin change load, never a broken redirect. The host is stored in its IDNA
(ASCII) form and other non-ASCII characters percent-encoded, so that every landing URL can be a
`Location` header. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from clickpath.domain.postback_template import check_macros, render_template

SUBS = ("sub1", "sub2", "sub3", "sub4", "sub5")
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
LANDING_MACROS = frozenset({"click_id", *SUBS, "affiliate_id", "campaign_id", "brand_id", "tracking_code"})


def validate_landing_template(template: str) -> str:
    """The template as it is to be saved (`normalise_url`); raise ValueError unless it is an
    http(s) URL whose macros are all known and stand in the path, query or fragment only."""
    check_macros(template, LANDING_MACROS, "landing URL")
    if not urlsplit(render_template(template, {})).hostname:
        raise ValueError(f"landing URL has no host: {template!r}")
    return normalise_url(template)


# What a URL's path, query and fragment keep as they are: everything printable in ASCII but
# the characters a Location header or an HTML attribute must not carry raw; '%' stays, so
# escapes already there are not escaped twice; '{' and '}' stay, for the macros.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~{}"


def idna_host(host: str) -> str:
    """A host name in its ASCII (IDNA) form: `例え.jp` -> `xn--r8jz45g.jp`; raises ValueError
    for a name IDNA refuses. Uses the `idna` package (IDNA 2008, UTS 46) when installed, else
    Python's codec (IDNA 2003)."""
    if host.isascii():
        return host.lower()
    try:
        import idna
    except ImportError:  # pragma: no cover - idna comes with httpx
        try:
            return host.encode("idna").decode("ascii").lower()
        except UnicodeError as e:
            raise ValueError(f"host {host!r} is not a valid international domain name: {e}") from None
    try:
        return str(idna.encode(host, uts46=True).decode("ascii")).lower()
    except idna.IDNAError as e:
        raise ValueError(f"host {host!r} is not a valid international domain name: {e}") from None


def normalise_url(url: str) -> str:
    """`url` with an ASCII host (IDNA) and its other non-ASCII characters percent-encoded; an
    ASCII URL comes back as it was (its host lower-cased)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    host = parts.hostname
    if host and not host.startswith("["):
        userinfo, at, hostport = netloc.rpartition("@")
        port = hostport[len(hostport.split(":")[0]):] if not hostport.startswith("[") else ""
        netloc = f"{userinfo}{at}{idna_host(host)}{port}"
    return urlunsplit((
        parts.scheme, netloc, quote(parts.path, safe=_URL_SAFE),
        quote(parts.query, safe=_URL_SAFE), quote(parts.fragment, safe=_URL_SAFE),
    ))


def render_landing_url(
    template: str, values: Mapping[str, str | None], utm: Mapping[str, str] | None = None
) -> str:
    """Fill the macros (URL-encoded; a macro with no value becomes empty) and append the UTM
    parameters the template does not already set: the campaign's own UTM values win. The
    result is ASCII, fit for a Location header, even for a template saved before hosts were
    normalised."""
    url = render_template(template if template.isascii() else normalise_url(template), values)
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
