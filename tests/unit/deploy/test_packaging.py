"""Every package of the source tree ships in the wheel: pyproject lists packages by name, so a
new one left off installs from the checkout (an editable install) but not from the wheel, and
the roles of an installed clickpath then fail to import it (.ci/wheel-smoke found one)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MAPPED = {"clickpath": "clickpath", "clickpath.streams": "streams",
          "clickpath.connectors": "connectors", "clickpath.sinks": "sinks"}


def test_every_python_package_of_the_tree_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for name, folder in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            if name == "clickpath" and parts[:1] in (("streams",), ("connectors",), ("sinks",)):
                continue
            found.add(".".join((name, *parts)))
    assert found - listed == set(), "packages missing from [tool.setuptools] packages"
