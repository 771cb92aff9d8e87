"""How the `clickpath` command line tells a person what was wrong with what they typed.

argparse names a bad value but guesses nothing, lists internal commands among the choices and
reports an unknown flag at the top level, where it no longer knows the command. `Parser` adds
the "did you mean" (difflib: Python 3.11's argparse has no suggest_on_error), keeps hidden
commands hidden, and names the command an unknown flag was given to. The value types here
(`iso_date`, `decimal`) say what was expected. Nothing here reads settings or files.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, NoReturn

_INVALID_CHOICE = re.compile(
    r"^argument (?P<arg>\S+): invalid choice: '(?P<value>[^']*)' \(choose from (?P<choices>.*)\)$"
)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest candidate, or '' when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def iso_date(text: str) -> date:
    """A YYYY-MM-DD flag; argparse prints the reason as `argument --since: ...`."""
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date ({e}): use YYYY-MM-DD, e.g."
                                         " 2026-01-31") from None


def decimal(text: str) -> Decimal:
    """A decimal flag, refused by name when it is not a number."""
    try:
        return Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number, e.g. 0.4") from None


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors suggest the nearest command, flag or choice."""

    public_commands: Sequence[str] = ()  # set on the top-level parser: the commands listed

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        argv = list(sys.argv[1:] if args is None else args)
        self._refuse_unknown_flags(argv)
        parsed, extras = self.parse_known_args(argv, namespace)
        if extras:
            # Report it from the command it was given to: that one knows its flags.
            chosen = self._subparser(getattr(parsed, "command", None)) or self
            chosen.unrecognized(extras)
        return parsed

    def _refuse_unknown_flags(self, argv: list[str]) -> None:
        """An unknown flag named before argparse reads on: left to it, `--fromat json` makes
        "json" a positional and the error is about that instead."""
        command = next((a for a in argv if not a.startswith("-")), None)
        sub = self._subparser(command)
        if sub is None:
            return
        rest = argv[argv.index(command or "") + 1:]
        nested = next((a for a in rest if not a.startswith("-")), None)
        if sub._subparser(nested) is not None:  # `ledger adjust ...`: that one's flags
            sub._refuse_unknown_flags(rest)
            return
        known = [*sub.flags(), "--help"]
        for arg in rest:
            if arg == "--":
                return
            name = arg.split("=", 1)[0]
            # argparse takes a string with a space as a value, and a prefix as its flag.
            if name.startswith("--") and " " not in arg and not any(k.startswith(name) for k in known):
                sub.unrecognized([arg])

    def _subparser(self, command: str | None) -> Parser | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                found = action.choices[command]
                return found if isinstance(found, Parser) else None
        return None

    def flags(self) -> list[str]:
        return [s for a in self._actions for s in a.option_strings if s.startswith("--")]

    def unrecognized(self, extras: list[str]) -> NoReturn:
        flag = next((e for e in extras if e.startswith("-")), None)
        hint = did_you_mean(flag.split("=", 1)[0], self.flags()) if flag else ""
        self.error(f"unrecognized arguments: {' '.join(extras)}{hint}")

    def error(self, message: str) -> NoReturn:
        match = _INVALID_CHOICE.match(message)
        if match and match["arg"] in ("command", "COMMAND") and self.public_commands:
            value = match["value"]
            hint = did_you_mean(value, self.public_commands)
            message = f"unknown command {value!r}{hint}; `{self.prog} --help` lists the commands"
        elif match:
            choices = [c.strip().strip("'") for c in match["choices"].split(",")]
            message += did_you_mean(match["value"], choices)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_command(sub: Any, name: str, summary: str | None, description: str, **kw: Any) -> Parser:
    """A command with a one-line `summary` in `clickpath --help` (None: hidden, an internal
    role) and a `description` for `clickpath NAME --help`."""
    if summary is None:  # no help= at all: argparse then lists it nowhere
        parser: Parser = sub.add_parser(name, description=description, **kw)
    else:
        parser = sub.add_parser(name, help=summary, description=description, **kw)
    return parser
