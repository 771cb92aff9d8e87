"""README and docs/ stay whole: every relative link resolves inside the repository (file and
heading), every path named in code spans exists, and nothing points outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\s]+)`")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
REPO_PATH = re.compile(r"^(tests|deploy|schemas|clickpath|streams|connectors|sinks|docs|\.ci)/[\w./-]*$")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for match in re.finditer(r"^#{1,6}\s+(.*)$", FENCE.sub("", page.read_text()), re.M):
        s = slug(match.group(1))
        n = seen.get(s, 0)
        found.add(s if n == 0 else f"{s}-{n}")
        seen[s] = n + 1
    return found


def broken_links(page: Path) -> list[str]:
    problems = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if ROOT not in dest.parents and dest != ROOT:
            problems.append(f"({target}) points outside the repository")
        elif not dest.exists():
            problems.append(f"({target}): no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"({target}): no heading #{anchor} in {dest.relative_to(ROOT)}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve_inside_the_repository(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_paths_named_exist_and_nothing_points_outside(page: Path) -> None:
    text = page.read_text()
    missing = [
        span for span in (s.rstrip(".,:;") for s in CODE.findall(text))
        if REPO_PATH.match(span) and not any(c in span for c in "*<") and "NNN" not in span
        and not (ROOT / span).exists()
    ]
    assert missing == []
    assert "../shared" not in text and "/shared/" not in text
