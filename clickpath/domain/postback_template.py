"""Postback URL templates: `https://partner/pb?cid={click_id}&amt={amount}`.

Macros are the ones docs/delivery.md lists; an unknown macro is a configuration error caught when
settings load, never a broken request at send time. Values are URL-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

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


def validate_template(template: str) -> None:
    check_macros(template, MACROS, "postback")


def render_template(template: str, values: Mapping[str, str | None]) -> str:
    """Fill every macro; a macro with no value becomes the empty string."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return quote(value, safe="") if value else ""

    return _MACRO.sub(fill, template)
