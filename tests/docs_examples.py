"""The examples README.md and docs/*.md show, as the docs-examples test runs them (issue 21
item 1; the rules are in docs/development.md#examples-in-the-docs).

- A ```sh block is an example when one of its commands (a line, with `\\` continuations joined)
  starts with `clickpath`, `.venv/bin/clickpath` or `curl`, after optional `NAME=value ` or
  `NAME=$(` prefixes. The whole block runs as one bash script (`set -eo pipefail`), so its
  `export`s and `KEY=$(...)` lines carry to the commands after them.
- A ```sql block is an example: each statement (up to a `;` ending a line) runs through
  `clickpath sql`.
- `<!-- example: skip — why -->` as the last non-blank line before a block's opening fence
  skips it, with the reason; `<!-- example: exits N — why -->` there says the block ends with
  exit code N (a command shown failing on purpose); any other example must exit 0.

Pure text in, examples out: no files are run here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE_ADDRESSES = ("127.0.0.1:8000", "localhost:8000")
"""How the docs write the service's address (the default port); the test's instance is elsewhere."""
BROKER_ADDRESS = "127.0.0.1:36419"
"""How the docs write the embedded broker's address (README's banner sample)."""

_FENCE = re.compile(r"^\s*```(\w*)\s*$")
_MARK = re.compile(r"^<!--\s*example:\s*(?:(skip)|exits\s+(\d+))\b\s*[—:-]*\s*(.*?)\s*-->$")
_COMMAND = re.compile(r"^(?:\w+=(?:\S*\s+|\$\())*(?:\.venv/bin/)?(?:clickpath|curl)(?:\s|$)")


@dataclass(frozen=True)
class Example:
    """One runnable block: `kind` "sh" (a script) or "sql" (statements for `clickpath sql`)."""

    page: str
    line: int
    kind: str
    text: str
    skip: str | None = None
    exit_code: int = 0

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    def statements(self) -> list[str]:
        """A sql block's statements, without the `;` that ends them."""
        parts = re.split(r";[ \t]*$", self.text, flags=re.M)
        return [p.strip() for p in parts if _code(p)]


def _code(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if line.strip() and not line.strip().startswith("--"))


def commands(script: str) -> list[str]:
    """A shell block's commands: lines with their `\\` continuations joined, comments and blank
    lines dropped (heredoc bodies come out as lines too: they never start like a command)."""
    joined, held = [], ""
    for line in script.splitlines():
        if line.rstrip().endswith("\\"):
            held += line.rstrip()[:-1] + " "
            continue
        text = (held + line).strip()
        held = ""
        if text and not text.startswith("#"):
            joined.append(text)
    return joined


def is_example(script: str) -> bool:
    return any(_COMMAND.match(c) for c in commands(script))


def examples_in(page: str, text: str) -> list[Example]:
    """Every sh example and sql block of one Markdown page, in page order."""
    found: list[Example] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), len(lines))
        kind, body = opening.group(1), "\n".join(lines[i + 1 : end])
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mark = _MARK.match(before)
        if kind == "sql" or (kind == "sh" and is_example(body)):
            skip = (mark.group(3) or "no reason given") if mark and mark.group(1) else None
            code = int(mark.group(2)) if mark and mark.group(2) else 0
            found.append(Example(page, i + 1, kind, body, skip, code))
        i = end + 1
    return found


def all_examples(root: Path = ROOT) -> list[Example]:
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    return [e for p in pages for e in examples_in(str(p.relative_to(root)), p.read_text())]


def localize(script: str, service: str, broker: str) -> str:
    """The script with the docs' sample addresses replaced by the running instance's."""
    for address in SERVICE_ADDRESSES:
        script = script.replace(address, service)
    return script.replace(BROKER_ADDRESS, broker)
