"""The arguments of the admin commands: postbacks, webhooks, deliveries, keys, links.
Their functions: commands_admin."""

from __future__ import annotations

import argparse
from typing import Any

from clickpath.run.arguments import Parser, add_command
from clickpath.run.commands_admin import cmd_deliveries, cmd_endpoints, cmd_keys, cmd_links
from clickpath.run.commands_plans import cmd_plans

# All of them talk to a running `up` (cli.CLIENT_COMMANDS).
CLIENT_COMMANDS = frozenset({"postbacks", "webhooks", "deliveries", "keys", "links", "plans"})


def add_admin_commands(sub: Any) -> None:
    _add_endpoints(sub)

    deliveries = add_command(sub, "deliveries", "resend dead-lettered postbacks and webhooks",
                             "Resends dead-lettered postbacks and webhooks with their delivery ids"
                             " (receivers drop repeats).")
    deliveries.add_argument("action", choices=["replay"])
    deliveries.add_argument("--endpoint", default=None, help="only this endpoint's")
    deliveries.add_argument("--job", default=None, help="only this delivery id")
    deliveries.set_defaults(func=cmd_deliveries)

    keys = add_command(sub, "keys", "mint, list and revoke API keys (effective on the running service)",
                       "Mints, lists and revokes the HTTP API's keys; a change takes effect on the"
                       " running service at once.")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("key", nargs="?", help="revoke: the key id or the key itself")
    keys.add_argument("--role", choices=["operator", "affiliate", "analyst", "admin"], default="operator")
    keys.add_argument("--brand", default=None,
                      help="operator and analyst keys (needed): the brand they send events for and"
                      " read reports of; affiliate keys (optional): the one brand they read")
    keys.add_argument("--affiliate", default=None, help="affiliate keys: the affiliate whose data it reads")
    keys.add_argument("--format", choices=["table", "json"], default="table")
    keys.set_defaults(func=cmd_keys)

    links = add_command(sub, "links", "list every tracking link (configuration and admin changes)",
                        "Lists every campaign's tracking link as the running service serves it"
                        " (configuration plus admin changes).")
    links.add_argument("--format", choices=["table", "json"], default="table")
    links.set_defaults(func=cmd_links)

    plans = add_command(sub, "plans", "add, list and show commission plans (effective on the running worker)",
                        "Lists and shows the commission plans in effect (configuration plus admin"
                        " versions) and adds a version; docs/commissions.md.")
    plans.add_argument("action", choices=["add", "list", "show"])
    plans.add_argument("plan_id", nargs="?", help="show, add: the plan id")
    plans.add_argument("--file", default=None,
                       help="add: a TOML file with one version (effective_from, currency, cpa,"
                       " revshare, sub_affiliate_share) and, for a new plan, [[assign]] tables")
    plans.add_argument("--format", choices=["table", "json"], default="table")
    plans.set_defaults(func=cmd_plans)


def _add_endpoints(sub: argparse._SubParsersAction[Parser]) -> None:
    for name, what in (("postbacks", "affiliates' postback endpoints"),
                       ("webhooks", "webhook endpoints of operators and affiliate managers")):
        ep = add_command(sub, name, f"add, list, disable, enable {what} (effective at once)",
                         f"Adds, lists, disables and enables {what}; a change takes effect on the"
                         " running delivery engine at once (docs/delivery.md).")
        actions = ["add", "list", "disable", "enable", "rotate-secret"]
        ep.add_argument("action", choices=actions + (["test", "presets"] if name == "postbacks" else []))
        ep.add_argument("id", nargs="?", help="endpoint id, e.g. aff-1-main")
        ep.add_argument("--affiliate", default=None)
        ep.add_argument("--brand", default=None, help="webhooks: only this brand's events")
        ep.add_argument("--url", default=None, help="postbacks: a template with {click_id}... macros")
        if name == "postbacks":
            ep.add_argument("--preset", default=None,
                            help="a tracker preset (clickpath postbacks presets), with --base-url")
            ep.add_argument("--base-url", default=None, help="the tracker's postback URL, no macros")
            ep.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                            help="a preset override, e.g. goal_ftd=3 (repeatable)")
            ep.add_argument("--event", default="ftd",
                            help="test: the sample conversion's event (default ftd)")
        ep.add_argument("--method", choices=["GET", "POST"], default=None)
        ep.add_argument("--body", choices=["none", "form", "json"], default="none")
        ep.add_argument("--events", default=None, help="comma-separated, e.g. registration,ftd")
        ep.add_argument("--sign", action="store_true", help="postbacks: sign (prints the secret)")
        ep.add_argument("--replace", action="store_true", help="add: overwrite the endpoint with this id")
        ep.add_argument("--reason", default=None, help="disable: why")
        ep.add_argument("--format", choices=["table", "json"], default="table")
        ep.set_defaults(func=cmd_endpoints)
