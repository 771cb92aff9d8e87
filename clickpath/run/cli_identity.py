"""The arguments of the identity commands: `identity unmerge`. Their functions: commands_identity."""

from __future__ import annotations

from typing import Any

from clickpath.run.arguments import add_command
from clickpath.run.commands_identity import cmd_unmerge

# It writes to the running `up`'s broker (cli.CLIENT_COMMANDS).
CLIENT_COMMANDS = frozenset({"identity"})


def add_identity_commands(sub: Any) -> None:
    identity = add_command(sub, "identity", "undo a merge of the identity graph (docs/identity.md)",
                           "Acts on the identity graph: persons across devices and brands"
                           " (docs/identity.md).")
    actions = identity.add_subparsers(dest="identity_action", metavar="{unmerge}", required=True)
    unmerge = add_command(actions, "unmerge", "split a brand account from its person, for good",
                          "Splits the brand account from the accounts it is merged with now; their"
                          " links stay blocked, later evidence never merges them again. Prints"
                          " the request (its request_id) once the broker has it.")
    unmerge.add_argument("player_id", metavar="PLAYER_ID")
    unmerge.add_argument("--brand", required=True, metavar="B", help="the account's brand")
    unmerge.add_argument("--reason", required=True, metavar="TEXT",
                         help="why, e.g. a ticket number (kept with the request; no personal data)")
    unmerge.set_defaults(func=cmd_unmerge)
