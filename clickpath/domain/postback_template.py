"""Postback URL templates: `https://partner/pb?cid={click_id}&amt={amount}`.

Macros are the ones docs/delivery.md lists; an unknown macro is a configuration error caught when
settings load, never a broken request at send time. Values are URL-encoded. Macros stand only in
the path, query or fragment: a value in the host (`https://partner.example{sub1}/`) would let
whoever chooses it choose where the request, or a visitor's redirect, goes. Templates are checked
by rendering them with sentinel values and parsing the result, as a request would see it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

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
    if (empty.scheme, empty.netloc) != (filled.scheme, filled.netloc):
        raise TemplateError(
            f"{what} template's host changes with its values ({empty.netloc!r} without them): "
            f"{template!r}"
        )


def validate_template(template: str) -> None:
    check_macros(template, MACROS, "postback")


def render_template(template: str, values: Mapping[str, str | None]) -> str:
    """Fill every macro; a macro with no value becomes the empty string."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return quote(value, safe="") if value else ""

    return _MACRO.sub(fill, template)
