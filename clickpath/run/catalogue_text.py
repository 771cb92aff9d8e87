"""What `clickpath affiliates` and `clickpath campaigns` send and print, as plain functions.

The commands (commands_catalogue) only call the admin API; what goes into a request body, how
the API's answers and refusals read on a terminal, lives here, so it is tested without a
service. Nothing here does I/O, reads settings or sees a key.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from typing import Any

from clickpath.domain.catalogue import CATALOGUE_ID_PATTERN

Row = Mapping[str, Any]

# The affiliate flags, each with the admin API's field it sets (PUT /v1/admin/affiliates/{id}).
AFFILIATE_FLAGS: dict[str, str] = {
    "name": "--name",
    "parent_id": "--parent-id",
    "payout_currency": "--payout-currency",
    "min_payout": "--min-payout",
    "legal_name": "--legal-name",
    "address": "--address",
    "country": "--country",
    "vat_id": "--vat-id",
    "vat_reverse_charge": "--reverse-charge",
}
CAMPAIGN_FLAGS: dict[str, str] = {
    "brand_id": "--brand",
    "landing_url": "--landing-url",
    "tracking_code": "--tracking-code",
}
PATH_ARGUMENTS: dict[str, str] = {"affiliate_id": "AFFILIATE_ID", "campaign_id": "CAMPAIGN_ID"}


def catalogue_id(text: str) -> str:
    """An affiliate or campaign id, checked before it becomes a path segment: `a/b` would
    otherwise reach another route and come back as a bare "Not Found"."""
    if not re.match(CATALOGUE_ID_PATTERN, text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an id: up to 64 letters, digits, '.', '_' or '-', starting with a"
            " letter or digit, e.g. aff-alpha")
    return text


def affiliate_body(args: argparse.Namespace) -> dict[str, Any]:
    """The PUT body: only the fields given on the command line, so the others stay as they are
    (the store merges a PUT into the affiliate). `--no-parent` sends `parent_id: null`."""
    body: dict[str, Any] = {}
    for field in AFFILIATE_FLAGS:
        value = getattr(args, field, None)
        if value is not None:
            body[field] = str(value) if field == "min_payout" else value
    if getattr(args, "no_parent", False):
        body["parent_id"] = None
    return body


def misplaced(group: str, args: argparse.Namespace) -> str | None:
    """Why the arguments do not fit the action (a flag of `add` given to `list`...), or None:
    said, not silently ignored, so `affiliates list --parent-id x` is not taken for a filter."""
    if group == "affiliates":
        given = [AFFILIATE_FLAGS[f] for f in AFFILIATE_FLAGS if getattr(args, f, None) is not None]
        if getattr(args, "vat_reverse_charge", None) is False:
            given = [g if g != "--reverse-charge" else "--no-reverse-charge" for g in given]
        given += ["--no-parent"] if getattr(args, "no_parent", False) else []
        if args.action != "add" and given:
            return f"{given[0]} applies to `clickpath affiliates add`, not {args.action}"
        if args.action == "list" and args.affiliate_id:
            return f"affiliates list takes no AFFILIATE_ID (`clickpath affiliates show {args.affiliate_id}`)"
        return None
    if args.action == "list":
        given = [CAMPAIGN_FLAGS[f] for f in CAMPAIGN_FLAGS if getattr(args, f, None) is not None]
        if given:
            return f"{given[0]} applies to `clickpath campaigns add`, not list"
        if args.affiliate_id:
            return (f"campaigns list takes no AFFILIATE_ID (`--affiliate {args.affiliate_id}` lists"
                    " its campaigns)")
    elif args.affiliate is not None:
        return "campaigns add takes the affiliate as AFFILIATE_ID, not --affiliate"
    return None


def campaign_body(args: argparse.Namespace) -> dict[str, Any]:
    """The PUT body of a campaign: the whole campaign (a PUT replaces it)."""
    return {"brand_id": args.brand_id, "landing_url": args.landing_url, "tracking_code": args.tracking_code}


def refusal(status: int, body: Any, flags: Mapping[str, str]) -> str:
    """The API's refusal as a person reads it: each problem as `FLAG: why`, the flag being the
    one that set the field (`--parent-id: ...`), not a JSON dump."""
    detail = body.get("detail") if isinstance(body, Mapping) else None
    if isinstance(detail, str):
        return detail
    if not isinstance(detail, list) or not detail:
        return f"answered {status}"
    problems = []
    for item in detail:
        loc = [str(part) for part in item.get("loc", []) if part not in ("body", "path", "query")]
        field = loc[0] if loc else ""
        name = flags.get(field) or PATH_ARGUMENTS.get(field) or ".".join(loc)
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "; ".join(problems)


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns two spaces apart (the first row: the header)."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def affiliates_table(affiliates: Sequence[Row]) -> str:
    """`affiliates list`: one line per affiliate."""
    if not affiliates:
        return ("No affiliates yet: `clickpath affiliates add AFFILIATE_ID --name NAME`"
                " (or CLICKPATH_AFFILIATES in configuration).")
    rows = [["AFFILIATE", "NAME", "PARENT", "CURRENCY", "MIN PAYOUT", "COUNTRY", "CAMPAIGNS"]]
    for a in affiliates:
        rows.append([a["affiliate_id"], _text(a.get("name")), _text(a.get("parent_id")),
                     _text(a.get("payout_currency")), _text(a.get("min_payout")),
                     _text(a.get("country")), str(len(a.get("campaigns", [])))])
    return columns(rows)


_DETAIL = (
    ("name", "name"), ("parent_id", "parent"), ("payout_currency", "payout currency"),
    ("min_payout", "minimum payout"), ("legal_name", "legal name"), ("address", "address"),
    ("country", "country"), ("vat_id", "VAT id"), ("vat_reverse_charge", "reverse charge"),
    ("postback_url", "postback URL"), ("postback_events", "postback events"),
)


def affiliate_detail(affiliate: Row) -> str:
    """`affiliates show` (and `add`): every field, then its campaigns with their links."""
    lines = [f"affiliate {affiliate['affiliate_id']}"]
    width = max(len(label) for _, label in _DETAIL)
    for field, label in _DETAIL:
        value = affiliate.get(field)
        shown = ",".join(value) if isinstance(value, list) else _text(value)
        lines.append(f"  {label + ':':{width + 1}} {shown}")
    campaigns = affiliate.get("campaigns", [])
    if not campaigns:
        lines.append("  no campaigns: `clickpath campaigns add "
                     f"{affiliate['affiliate_id']} CAMPAIGN_ID --brand B --landing-url URL`")
        return "\n".join(lines)
    lines.append("")
    lines.append(campaigns_table(campaigns))
    return "\n".join(lines)


def campaigns_table(campaigns: Sequence[Row]) -> str:
    """`campaigns list`: each campaign's brand, tracking code and link, its landing URL under it."""
    if not campaigns:
        return "No campaigns: `clickpath campaigns add AFFILIATE_ID CAMPAIGN_ID --brand B --landing-url URL`."
    rows = [["AFFILIATE", "CAMPAIGN", "BRAND", "CODE", "LINK"]]
    for c in campaigns:
        rows.append([c["affiliate_id"], c["campaign_id"], c["brand_id"], _text(c.get("tracking_code")),
                     c["url"]])
    table = columns(rows).splitlines()
    out = [table[0]]
    for line, c in zip(table[1:], campaigns, strict=True):
        out.append(line)
        out.append(f"    lands on {c['landing_url']}")
        if c.get("query_url") and c["query_url"] != c["url"]:
            out.append(f"    also     {c['query_url']}")
    return "\n".join(out)


def every_campaign(affiliates: Sequence[Row]) -> list[Row]:
    """The campaigns of every affiliate in the admin list, in its order (affiliate, campaign)."""
    return [c for a in affiliates for c in a.get("campaigns", [])]
