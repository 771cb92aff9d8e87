"""Avro schema evolution rules clickpath holds itself to: a new version must read old data.

Checked by `tests/unit/test_schemas.py` for every pair of consecutive versions in `schemas/`.
"""

from __future__ import annotations

from typing import Any


def _type_names(avro_type: Any) -> set[str]:
    if isinstance(avro_type, list):
        return {n for t in avro_type for n in _type_names(t)}
    if isinstance(avro_type, dict):
        return {avro_type.get("logicalType") or avro_type["type"]}
    return {avro_type}


def backward_incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why a reader with `new` cannot read data written with `old` (empty when it can)."""
    problems = []
    old_fields = {f["name"]: f for f in old["fields"]}
    for field in new["fields"]:
        name = field["name"]
        if name not in old_fields:
            if "default" not in field:
                problems.append(f"new field {name!r} has no default")
            continue
        old_types, new_types = _type_names(old_fields[name]["type"]), _type_names(field["type"])
        if not old_types <= new_types:
            problems.append(
                f"field {name!r} changed type from {sorted(old_types)} to {sorted(new_types)}"
            )
    return problems
