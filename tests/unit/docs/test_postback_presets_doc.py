"""docs/postback-presets.md describes the presets as the code has them: every preset's section
names its parameters, its goal and status defaults, whether it takes reversals, and its sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickpath.domain.presets import PRESETS, default_events

DOC = (Path(__file__).resolve().parents[3] / "docs" / "postback-presets.md").read_text()


def section(name: str) -> str:
    start = DOC.index(f"### {name}: ")
    end = DOC.find("\n### ", start + 1)
    return DOC[start:] if end < 0 else DOC[start:end]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_is_documented_as_it_is(name: str) -> None:
    p, text = PRESETS[name], section(name)
    names = [p.click, *(param for param, _ in p.macros), *p.fixed.values(), *filter(None, [p.goal, p.status])]
    assert all(f"`{n}`" in text for n in names), names
    assert all(f"`{v}`" in text for v in [*p.statuses.values(), *(g for g in p.goals.values() if g)])
    assert f"Reversals: **{'yes' if p.reversal else 'no'}**" in text
    assert all(source in text for source in p.sources)
    reversals = DOC[DOC.index("## Reversals") :].split("\n## ")[0]
    reversal_row = next(
        line for line in reversals.splitlines() if line.startswith("| ") and name in line.split("|")[1]
    )
    assert ("nothing" in reversal_row) != p.reversal


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_presets_default_events_are_the_ones_an_endpoint_gets(name: str) -> None:
    """Issue 21, item 15: the doc and `postbacks presets` listed registration,ftd where an
    endpoint got chargeback too (or the FTD alone)."""
    line = next(x for x in section(name).splitlines() if "Default events: " in x)
    listed = line.split("Default events: ", 1)[1].split(" (", 1)[0].rstrip(".")
    assert listed.split(", ") == default_events(name, {})
