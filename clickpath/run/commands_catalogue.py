"""`clickpath affiliates add|list|show` and `clickpath campaigns add|list`: the catalogue admin API
of the running service (connectors/admin_catalogue.py), with this host's CLI key.

Through the service, never by writing `<data_dir>/catalogue.json` here: the service checks a
change against its own configuration (under `up --demo` the demo's affiliates live in its
environment only, so a parent this shell does not know may be valid there), and the tracker's
own store takes the write, so the very next click sees it. With no service running, the
command fails with the same "is `clickpath up` running?" as every client command. Bodies and
the printed text: catalogue_text.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from clickpath.run.catalogue_text import (
    AFFILIATE_FLAGS,
    CAMPAIGN_FLAGS,
    affiliate_body,
    affiliate_detail,
    affiliates_table,
    campaign_body,
    campaigns_table,
    every_campaign,
    misplaced,
    refusal,
)
from clickpath.run.errors import CommandError
from clickpath.settings import Settings

ADMIN = "/v1/admin/affiliates"


def _call(
    settings: Settings, method: str, path: str, flags: Mapping[str, str], what: str,
    body: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    """(status, JSON) of a 200 or 201; any other answer is a CommandError saying why, exit 2
    when the input was refused (404, 422), else 1."""
    from clickpath.run.commands_data import _from_service

    response = _from_service(settings, method, path, body=body)
    if response.status_code in (200, 201):
        return response.status_code, response.json()
    try:
        payload = response.json()
    except ValueError:
        payload = {"detail": response.text.strip() or None}
    reason = refusal(response.status_code, payload, flags)
    code = 2 if response.status_code in (404, 422) else 1
    raise CommandError(f"{what}: {reason} (the service answered {response.status_code})", code)


def _segment(value: str) -> str:
    """An id as one path segment. The parser has checked it (catalogue_text.catalogue_id); quoted
    all the same, so that no value can ever name another route."""
    return quote(value, safe="")


def _print(value: Any, fmt: str, table: Callable[[Any], str]) -> None:
    print(json.dumps(value, indent=2) if fmt == "json" else table(value))


def _check(group: str, args: argparse.Namespace) -> None:
    problem = misplaced(group, args)
    if problem is not None:
        raise CommandError(problem)


def cmd_affiliates(settings: Settings, args: argparse.Namespace) -> None:
    _check("affiliates", args)
    if args.action == "list":
        _, answer = _call(settings, "GET", ADMIN, AFFILIATE_FLAGS, "affiliates list")
        affiliates = answer["affiliates"]
        _print(affiliates, args.format, affiliates_table)
        return
    if not args.affiliate_id:
        raise CommandError(f"affiliates {args.action} needs AFFILIATE_ID, e.g. `clickpath affiliates"
                           f" {args.action} aff-alpha`")
    path = f"{ADMIN}/{_segment(args.affiliate_id)}"
    what = f"affiliates {args.action} {args.affiliate_id}"
    if args.action == "show":
        _, affiliate = _call(settings, "GET", path, AFFILIATE_FLAGS, what)
    else:
        status, affiliate = _call(settings, "PUT", path, AFFILIATE_FLAGS, what, affiliate_body(args))
        done = "added" if status == 201 else "changed"
        print(f"affiliate {args.affiliate_id} {done}: effective on the running service",
              file=sys.stderr)
    _print(affiliate, args.format, affiliate_detail)


def cmd_campaigns(settings: Settings, args: argparse.Namespace) -> None:
    _check("campaigns", args)
    if args.action == "list":
        if args.affiliate:
            path, what = f"{ADMIN}/{_segment(args.affiliate)}", f"campaigns list --affiliate {args.affiliate}"
            _, affiliate = _call(settings, "GET", path, {"affiliate_id": "--affiliate"}, what)
            campaigns = list(affiliate["campaigns"])
        else:
            _, answer = _call(settings, "GET", ADMIN, CAMPAIGN_FLAGS, "campaigns list")
            campaigns = every_campaign(answer["affiliates"])
        _print(campaigns, args.format, campaigns_table)
        return
    needed = (("AFFILIATE_ID", args.affiliate_id), ("CAMPAIGN_ID", args.campaign_id),
              ("--brand", args.brand_id), ("--landing-url", args.landing_url))
    missing = [name for name, given in needed if not given]
    if missing:
        raise CommandError(f"campaigns add needs {', '.join(missing)}: campaigns add AFFILIATE_ID"
                           " CAMPAIGN_ID --brand B --landing-url URL [--tracking-code CODE]")
    path = f"{ADMIN}/{_segment(args.affiliate_id)}/campaigns/{_segment(args.campaign_id)}"
    what = f"campaigns add {args.affiliate_id} {args.campaign_id}"
    status, campaign = _call(settings, "PUT", path, CAMPAIGN_FLAGS, what, campaign_body(args))
    done = "added" if status == 201 else "replaced"
    print(f"campaign {args.affiliate_id}/{args.campaign_id} {done}: its link works at once",
          file=sys.stderr)
    _print(campaign, args.format, lambda one: campaigns_table([one]))
