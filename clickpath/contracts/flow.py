"""The data flow drawn from the topic registry, so the picture cannot drift from the wiring.

docs/architecture.md shows `mermaid()`'s output, and tests/unit/docs/test_architecture_flow.py
fails when the picture there has a topic edge the registry lacks or lacks one it has. Print a
fresh copy with `python -m clickpath.contracts.flow`.
"""

from __future__ import annotations

from clickpath.contracts.topics import SPECS, Node, Topic

# What lies outside the topics, drawn for orientation only (the check reads topic edges).
WORLD = (
    ("operators", "operator back ends", Node.API),
    ("operators", "operator back ends", Node.IMPORTER),
    ("operators", "operator back ends", Node.OPERATOR_SDK),
    ("browsers", "browsers", Node.TRACKER),
)
STORES = (
    (Node.SINK_CLICKHOUSE, "clickhouse", "ClickHouse"),
    (Node.SINK_POSTBACKS, "affiliates", "affiliate URLs, webhooks"),
)


def node_id(name: str) -> str:
    """A mermaid node id for a stage or topic name (ids take no dots or dashes)."""
    return name.replace(".", "_").replace("-", "_")


def topic_edges() -> set[tuple[str, str]]:
    """Every (from, to) pair of the registry between a stage and a topic, by name."""
    edges = set()
    for spec in SPECS.values():
        edges |= {(str(stage), spec.topic.value) for stage in spec.producers}
        edges |= {(spec.topic.value, str(stage)) for stage in spec.consumers}
    return edges


def mermaid() -> str:
    """A mermaid flowchart: stages as rounded boxes, topics as cylinders, one line per topic
    (its producers, the topic, its consumers)."""
    lines = ["flowchart LR"]
    lines += [f"  {node_id(stage)}({stage})" for stage in Node]
    lines += [f"  {node_id(topic.value)}[({topic.value})]" for topic in Topic]
    lines += sorted({f"  {node}[/{label}/]" for node, label, _ in WORLD})
    lines += [f"  {node}[/{label}/]" for _, node, label in STORES]
    for node in dict.fromkeys(node for node, _, _ in WORLD):
        stages = " & ".join(node_id(s) for n, _, s in WORLD if n == node)
        lines.append(f"  {node} -.-> {stages}")
    for spec in SPECS.values():
        line = node_id(spec.topic.value)
        if spec.producers:
            line = " & ".join(node_id(s) for s in spec.producers) + " --> " + line
        if spec.consumers:
            line += " --> " + " & ".join(node_id(s) for s in spec.consumers)
        lines.append(f"  {line}")
    lines += [f"  {node_id(stage)} -.-> {node}" for stage, node, _ in STORES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(mermaid(), end="")
