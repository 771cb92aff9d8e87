"""The arguments of the audit commands: `audit verify`, `audit list`. Their functions:
commands_audit."""

from __future__ import annotations

from typing import Any

from clickpath.run.arguments import add_command
from clickpath.run.commands_audit import cmd_audit_list, cmd_audit_verify, moment

# They read the running `up`'s data dir, if one runs (cli.CLIENT_COMMANDS).
CLIENT_COMMANDS = frozenset({"audit"})


def add_audit_commands(sub: Any) -> None:
    audit = add_command(sub, "audit", "verify and list the audit trail (docs/privacy.md#audit-trail)",
                        "The tamper-evident audit trail: who changed or read what, when, from"
                        " where (docs/privacy.md#audit-trail).")
    actions = audit.add_subparsers(dest="audit_action", metavar="{verify,list}", required=True)
    verify = add_command(actions, "verify", "check the chain and its signed head (exit 1 if broken)",
                         "Checks every entry's hash, their order and the signed head with"
                         " CLICKPATH_AUDIT_KEY: exit 0 with the entry count, or exit 1 naming the"
                         " first broken seq and why (an edited, removed or cut-off entry, a forged"
                         " head).")
    verify.set_defaults(func=cmd_audit_verify)
    listing = add_command(actions, "list", "the entries, filtered (oldest first)",
                          "Lists the audit entries, oldest first, filtered by actor, kind, subject"
                          " and time.")
    listing.add_argument("--actor", default=None, help="an API key id, or cli:<os user>")
    listing.add_argument("--kind", default=None,
                         help="e.g. plan.version_added; ending in a dot, a family (catalogue.)")
    listing.add_argument("--subject", default=None, help="e.g. brand-a:p-1, plan:std, key:<id>")
    listing.add_argument("--since", type=moment, default=None, metavar="WHEN",
                         help="from (inclusive): YYYY-MM-DD or an ISO time, UTC unless given")
    listing.add_argument("--until", type=moment, default=None, metavar="WHEN",
                         help="to (exclusive): YYYY-MM-DD or an ISO time, UTC unless given")
    listing.add_argument("--limit", type=int, default=None, metavar="N",
                         help="the newest N matching entries")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(func=cmd_audit_list)
