"""Postback URL templates: `https://partner/pb?cid={click_id}&amt={amount}`.

Macros are the ones docs/delivery.md lists; an unknown macro is a configuration error caught when
settings load, never a broken request at send time. Values are URL-encoded; in the path, dots
too, so that no value is a `.` or `..` segment that would move the request elsewhere on the
partner's server (`/aff/{sub1}/pb` with `sub1=..` must not become `/pb`). Macros stand only in
the path, query or fragment: a value in the host (`https://partner.example{sub1}/`) would let
whoever chooses it choose where the request, or a visitor's redirect, goes. Templates are checked
by rendering them with sentinel values and parsing the result, as a request would see it.

The host must be one a request can be made to: a valid name (IDNA: `xn--` labels must decode)
or an address, with no credentials (`user:pw@` is not sent by the delivery clients). What can
never be sent is refused here, naming the field, not found out by a retry loop at send time.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import SplitResult, quote, urlsplit

MACROS = frozenset(
    {
        "click_id", "sub1", "sub2", "sub3", "sub4", "sub5", "event", "amount", "currency",
        "payout", "player_token", "transaction_id", "timestamp", "affiliate_id", "campaign_id",
        "brand_id", "postback_id",
    }
)
_MACRO = re.compile(r"\{([^{}]*)\}")


class TemplateError(ValueError):
    """A postback template names a macro clickpath does not know."""


def check_macros(template: str, known: frozenset[str], what: str) -> None:
    """Refuse a URL template that is not http(s) or names a macro outside `known`; `what`
    names the template in the message ("postback", "landing URL")."""
    if not template.startswith(("http://", "https://")):
        raise TemplateError(f"{what} template must start with http:// or https://: {template!r}")
    unknown = sorted(set(_MACRO.findall(template)) - known)
    if unknown:
        raise TemplateError(
            f"unknown {what} macro(s) {', '.join('{' + m + '}' for m in unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    check_macro_positions(template, what)


def check_macro_positions(template: str, what: str) -> None:
    """Refuse a template whose macros reach the scheme, user, host or port, or whose host a
    value could change: rendered with sentinel values and with none, it must parse to the same
    http(s) origin with the sentinels only in the path, query or fragment."""
    macros = sorted(set(_MACRO.findall(template)))
    sentinels = {name: f"cpsentinel{i}x" for i, name in enumerate(macros)}
    filled = urlsplit(render_template(template, sentinels))
    empty = urlsplit(render_template(template, {}))
    authority = f"{filled.scheme}://{filled.netloc}".lower()
    in_host = [name for name, sentinel in sentinels.items() if sentinel in authority]
    if in_host:
        raise TemplateError(
            f"{what} template puts {', '.join('{' + m + '}' for m in in_host)} before the path "
            "(scheme, user, host or port): macros may stand only in the path, query or "
            f"fragment, so that no value can choose where it goes: {template!r}"
        )
    if filled.scheme not in ("http", "https") or not filled.hostname:
        raise TemplateError(f"{what} template has no host: {template!r}")
    problem = url_problem(filled)
    if problem is not None:
        field = "url" if what == "postback" else what
        raise TemplateError(f"{field}: {problem}: {template!r}")
    if (empty.scheme, empty.netloc) != (filled.scheme, filled.netloc):
        raise TemplateError(
            f"{what} template's host changes with its values ({empty.netloc!r} without them): "
            f"{template!r}"
        )


_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def host_problem(host: str) -> str | None:
    """Why `host` (as `urlsplit(...).hostname` gives it: lowercased, no brackets) is no host a
    request can go to, or None. A name: labels of letters, digits, `-` and `_`, none empty,
    `xn--` labels valid punycode (the clients decode them and fail on one that is not), at most
    253 characters; one trailing dot (a fully qualified name) is allowed."""
    try:
        ipaddress.ip_address(host.split("%")[0])
        return None
    except ValueError:
        pass
    name = host.removesuffix(".")
    try:
        ascii_name = name.encode("idna").decode("ascii")  # IDNA, as the clients encode it
    except UnicodeError as e:
        return f"host {host!r} is not a valid name (IDNA: {e})"
    if len(ascii_name) > 253:
        return f"host {host!r} is longer than 253 characters"
    for label in ascii_name.split("."):
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError as e:
                return f"host {host!r} is not a valid name (IDNA label {label!r}: {e})"
        if not _LABEL.match(label):
            return f"host {host!r} is not a valid name (label {label!r})"
    return None


def url_problem(parts: SplitResult) -> str | None:
    """Why a parsed http(s) URL cannot be sent as configured, or None: credentials in it, or a
    host that is not valid."""
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "credentials in the URL (user:password@) are not sent: give none"
    try:
        parts.port  # noqa: B018 - parsing the port raises on a bad one
    except ValueError as e:
        return f"port: {e}"
    return host_problem(parts.hostname or "")


def validate_template(template: str) -> None:
    check_macros(template, MACROS, "postback")


def render_template(template: str, values: Mapping[str, str | None]) -> str:
    """Fill every macro; a macro with no value becomes the empty string. A value before the
    template's query (or fragment) is in the path: its dots are encoded too (`%2E`), so that
    it cannot make a `.` or `..` segment; `/` and `%` are encoded everywhere."""
    path_end = _path_end(template)

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if not value:
            return ""
        encoded = quote(value, safe="")
        return encoded.replace(".", "%2E") if match.start() < path_end else encoded

    return _MACRO.sub(fill, template)


def _path_end(template: str) -> int:
    """Where the template's path ends: its first `?` or `#` outside a macro (values are
    encoded, so only the template's own text can start the query)."""
    outside = _MACRO.sub(lambda m: "x" * len(m.group(0)), template)
    ends = [i for i in (outside.find("?"), outside.find("#")) if i >= 0]
    return min(ends, default=len(template))
