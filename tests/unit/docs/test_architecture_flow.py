"""docs/architecture.md's data-flow picture is the registry's: every edge between a stage and a
topic it draws is in `clickpath/contracts/topics.py`, and every one there is drawn."""

from __future__ import annotations

import re
from pathlib import Path

from clickpath.contracts.flow import mermaid, node_id, topic_edges
from clickpath.contracts.topics import Node, Topic

DOC = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"
_NODE = re.compile(r"^(\w+)\s*(?:\(\[?|\[\(|\[/|\[)(.+?)(?:\]?\)|\)\]|/\]|\])$")
_ARROW = re.compile(r"\s*-\.?->\s*|\s*-->\s*")


def flow_block(text: str) -> str:
    start = text.index("## The data flow")
    fence = text.index("```mermaid\n", start) + len("```mermaid\n")
    return text[fence : text.index("```", fence)]


def drawn_edges(block: str) -> set[tuple[str, str]]:
    """The (from, to) pairs a mermaid flowchart draws, by node label: `a & b --> t --> c`."""
    labels: dict[str, str] = {}
    chains = []
    for line in block.splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("%%"):
            continue
        parts = _ARROW.split(line)
        if len(parts) == 1:
            node = _NODE.match(line)
            assert node, f"not a node or an edge: {line!r}"
            labels[node.group(1)] = node.group(2)
        else:
            chains.append([[n.strip() for n in part.split("&")] for part in parts])
    edges = set()
    for chain in chains:
        for left, right in zip(chain, chain[1:], strict=False):
            edges |= {(labels.get(a, a), labels.get(b, b)) for a in left for b in right}
    return edges


def test_the_doc_draws_exactly_the_registrys_topic_edges() -> None:
    topics = {t.value for t in Topic}
    drawn = {e for e in drawn_edges(flow_block(DOC.read_text())) if topics & set(e)}
    wanted = topic_edges()
    assert not drawn - wanted, f"drawn, not in the registry: {sorted(drawn - wanted)}"
    assert not wanted - drawn, (
        f"in the registry, not drawn: {sorted(wanted - drawn)}; "
        "`python -m clickpath.contracts.flow` prints the picture"
    )


def test_the_generated_picture_draws_every_edge_of_the_registry() -> None:
    topics = {t.value for t in Topic}
    assert {e for e in drawn_edges(mermaid()) if topics & set(e)} == topic_edges()


def test_the_check_sees_an_edge_too_many_and_one_missing() -> None:
    picture = mermaid()
    extra = picture + "  clicks --> postbacks\n"
    assert ("clicks", "postbacks") in drawn_edges(extra) - topic_edges()
    missing = picture.replace(" & sink_postbacks --> deadletter", " --> deadletter")
    assert ("sink-postbacks", "deadletter") in topic_edges() - drawn_edges(missing)


def test_node_ids_are_unique() -> None:
    names = [str(s) for s in Node] + [t.value for t in Topic]
    assert len({node_id(n) for n in names}) == len(names)
