"""The `clickpath` command: `up` runs everything; the other commands run one role or ask it.

This module builds the parser from its command groups and hands each command to a thin
function. Each group has its arguments in one cli_<group> module and its functions in one
commands_<group> module: `up`, `status` and the roles `up` runs (cli_roles, commands_roles);
report/sql/topics/import/mappings/fx (cli_data, commands_data);
postbacks/webhooks/deliveries/keys/links (cli_admin, commands_admin); affiliates/campaigns
(cli_catalogue, commands_catalogue); identity (cli_identity, commands_identity); audit
(cli_audit, commands_audit); the benchmarks
(cli_bench, commands_bench). A new group is a pair of such modules and one line in build_parser.
Client commands are first aimed at the running `up` (clickpath.run.instances).
Every command and flag is relied on by operators and scripts: add, do not rename. The text a
person reads in `--help` is the parser's (DESCRIPTION and each command's description), not
these docstrings.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from importlib.metadata import PackageNotFoundError, version

from pydantic import ValidationError

from clickpath.run import (
    cli_admin,
    cli_audit,
    cli_bench,
    cli_catalogue,
    cli_data,
    cli_identity,
    cli_roles,
)
from clickpath.run.arguments import Parser
from clickpath.run.errors import CommandError
from clickpath.settings import Settings


def _die(message: str, code: int = 2) -> None:
    print(f"clickpath: {message}", file=sys.stderr)
    sys.exit(code)


DESCRIPTION = """\
clickpath tracks affiliate clicks, player registrations and deposits, attributes them to
affiliates, sends the affiliates' postbacks and reports the funnel, from Kafka to ClickHouse.

Try it:   clickpath up --demo     (everything embedded, with demo traffic; Ctrl-C stops it)
Then, in another terminal:  clickpath status · clickpath report · clickpath links
"""
EPILOG = "Each command has its own help: clickpath COMMAND --help. Documentation: README.md, docs/."

# Internal: the roles `up` runs, one process each (also for one-container-per-role deploys).
HIDDEN = ("worker", "sink", "api", "demo")


def _version() -> str:
    try:
        return version("clickpath")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> Parser:
    parser = Parser(prog="clickpath", description=DESCRIPTION, epilog=EPILOG,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"clickpath {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    cli_roles.add_role_commands(sub)
    cli_data.add_data_commands(sub)
    cli_admin.add_admin_commands(sub)
    cli_catalogue.add_catalogue_commands(sub)
    cli_identity.add_identity_commands(sub)
    cli_audit.add_audit_commands(sub)
    cli_bench.add_bench_commands(sub)  # developer tools: listed last
    parser.public_commands = [n for n in sub.choices if n not in HIDDEN]
    return parser


# Commands that talk to a running `up` (or its data dir): aimed at it before they run.
CLIENT_COMMANDS = (cli_roles.CLIENT_COMMANDS | cli_data.CLIENT_COMMANDS | cli_admin.CLIENT_COMMANDS
                   | cli_catalogue.CLIENT_COMMANDS | cli_identity.CLIENT_COMMANDS
                   | cli_audit.CLIENT_COMMANDS)


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
        sys.stdout.flush()  # here, not at exit: a closed pipe must reach the handler below
    except BrokenPipeError:
        # The reader went away (`clickpath report | head -1`): stop quietly, as a Unix tool
        # killed by SIGPIPE would, and keep Python from complaining while it flushes stdout.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(128 + signal.SIGPIPE)
    except KeyboardInterrupt:
        sys.exit(130)


def _main(argv: list[str] | None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return
    try:
        settings = Settings()
    except (ValidationError, FileNotFoundError, ValueError) as e:
        _die(f"invalid settings: {e}")
    try:
        if args.command in CLIENT_COMMANDS:
            from clickpath.run.instances import use_running_up

            settings = use_running_up(settings)
        if args.command in ("report", "sql"):
            from clickpath.run.checks import check_filters

            check_filters(settings, args)
        args.func(settings, args)
    except CommandError as e:
        _die(str(e), e.code)


if __name__ == "__main__":
    main()
