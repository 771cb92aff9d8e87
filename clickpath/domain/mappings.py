"""Source mappings: how one source's field names and values become the schema's (docs/mappings.md).

Operators' CRM exports, payment systems and partners name fields their own way (`BTag`,
`round_id`, `payment_method`, `category: slots`). A mapping per source, declared in TOML,
renames, drops, maps values, sets defaults and constants and derives missing ids; every door
applies it (`apply`) to a raw event before the event is validated, so the schema stays one.

Checked once, at start (`parse_mappings`): every target must be a field of an ingress event
type, every value a mapping writes must be one its field accepts. `apply` is pure and
deterministic (ids it derives are the same on a replay, which idempotency relies on); it
raises `MappingRejection` naming the field at fault.

Order, per record (each step on what the previous one left):
  1. the source's own operations: drop, rename, values, defaults, constants;
  2. the event type is read, and that type's section (`types.<event_type>`) applies the same
     operations;
  3. derive: fields still absent are made from templates over the record's fields;
  4. fields the event type does not know are rejected (`unknown = "reject"`, the default) or
     moved into the event's `attributes` as strings (`unknown = "keep"`).
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from clickpath.contracts.models import INGRESS_TYPES

# Raw identifiers a door accepts beyond the schema and replaces by pseudonyms (connectors'
# ingress does it): field -> the event types that take it. Mappings may target them.
RAW_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "email": ("registration",),
    "phone": ("registration",),
    "ip": ("registration", "login", "click"),
}
# Fields a door owns: no mapping writes them.
DOOR_FIELDS = frozenset({"received_at", "attributes"})

Scalar = str | int | float | bool
Unknown = Literal["reject", "keep"]


class MappingError(ValueError):
    """A mapping configuration that cannot work; the message lists every problem, by path."""


class MappingRejection(Exception):
    """One record the mapping refuses: the field at fault and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Operations(BaseModel):
    """What one section of a mapping does (the source's own, or one event type's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    drop: tuple[str, ...] = Field(default=(), description="Fields removed, named as the source sends them.")
    rename: dict[str, str] = Field(default={}, description="Source field -> schema field.")
    values: dict[str, dict[str, Scalar]] = Field(
        default={}, description="Schema field -> {value the source sends: value of the schema}."
    )
    defaults: dict[str, Scalar] = Field(default={}, description="Set when the field is absent.")
    constants: dict[str, Scalar] = Field(default={}, description="Always set (replace what was sent).")
    derive: dict[str, str] = Field(
        default={}, description="Field -> template such as 'cb-{transaction_id}', when absent."
    )

    @property
    def empty(self) -> bool:
        return not (self.drop or self.rename or self.values or self.defaults or self.constants
                    or self.derive)


class SourceMapping(Operations):
    """One source's mapping: its operations, per-event-type sections, and the unknown policy."""

    unknown: Unknown = Field(
        default="reject", description="Fields the schema does not know: reject, or keep in attributes."
    )
    types: dict[str, Operations] = Field(default={}, description="Event type -> its own operations.")


# --- checking, at start ------------------------------------------------------------------------


def parse_mappings(raw: object, where: str = "mappings") -> dict[str, SourceMapping]:
    """`{source: mapping}` from configuration (TOML tables), or `MappingError` listing every problem."""
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: must be a table of sources, not {type(raw).__name__}")
    problems: list[str] = []
    result: dict[str, SourceMapping] = {}
    for source, table in raw.items():
        path = f"{where}.{source}"
        if not isinstance(source, str) or not _valid_source(source):
            problems.append(f"{path}: a source name must be 1 to 128 printable characters")
            continue
        if isinstance(table, SourceMapping):
            mapping = table
        else:
            try:
                mapping = SourceMapping.model_validate(table)
            except ValidationError as e:
                problems.extend(_pydantic_problems(path, e))
                continue
        problems.extend(check_mapping(mapping, path))
        result[source] = mapping
    if problems:
        raise MappingError("invalid source mappings:\n  " + "\n  ".join(problems))
    return result


def _valid_source(source: str) -> bool:
    return 0 < len(source) <= 128 and all(ord(c) >= 0x20 and ord(c) != 0x7F for c in source)


def _pydantic_problems(path: str, error: ValidationError) -> list[str]:
    out = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"])
        msg = "not an operation of a mapping" if err["type"] == "extra_forbidden" else err["msg"]
        out.append(f"{path}.{loc}: {msg}")
    return out


def check_mapping(mapping: SourceMapping, path: str) -> list[str]:
    """Every problem of one source's mapping, as `path: reason` lines (none: it is valid)."""
    problems = _check_operations(mapping, path, tuple(INGRESS_TYPES))
    for event_type, ops in mapping.types.items():
        if event_type not in INGRESS_TYPES:
            problems.append(f"{path}.types.{event_type}: not an event type; one of: "
                            f"{', '.join(sorted(INGRESS_TYPES))}")
            continue
        problems.extend(_check_operations(ops, f"{path}.types.{event_type}", (event_type,)))
        if "event_type" in (*ops.rename.values(), *ops.values, *ops.defaults, *ops.constants,
                            *ops.derive):
            problems.append(f"{path}.types.{event_type}: a type's section cannot change the event type")
    return problems


def _check_operations(ops: Operations, path: str, scope: tuple[str, ...]) -> list[str]:
    problems: list[str] = []
    what = f"an event of type {scope[0]}" if len(scope) == 1 else "any event type"

    def target(field: str, where: str) -> bool:
        if field in DOOR_FIELDS:
            problems.append(f"{where}: {field} is set by the door, not by a mapping")
            return False
        if not any(field in known_fields(t) for t in scope):
            problems.append(f"{where}: {field!r} is not a field of {what}")
            return False
        return True

    for name in ops.drop:
        if name in ops.rename:
            problems.append(f"{path}.drop: {name!r} is both dropped and renamed")
    seen: dict[str, str] = {}
    for source_name, field in ops.rename.items():
        where = f"{path}.rename.{source_name}"
        if target(field, where) and field in seen:
            problems.append(f"{where}: {seen[field]!r} is renamed to {field!r} too")
        seen.setdefault(field, source_name)
    for field, table in ops.values.items():
        if target(field, f"{path}.values.{field}"):
            for sent, value in table.items():
                problems.extend(_check_value(field, value, scope, f"{path}.values.{field}.{sent}"))
    for kind, table in (("defaults", ops.defaults), ("constants", ops.constants)):
        for field, value in table.items():
            where = f"{path}.{kind}.{field}"
            if target(field, where):
                problems.extend(_check_value(field, value, scope, where))
    for field in set(ops.defaults) & set(ops.constants):
        problems.append(f"{path}.defaults.{field}: also a constant; a field is one or the other")
    for field, template in ops.derive.items():
        where = f"{path}.derive.{field}"
        if target(field, where):
            try:
                names = template_fields(template)
            except ValueError as e:
                problems.append(f"{where}: {e}")
                continue
            if not names:
                problems.append(f"{where}: the template names no field, so every record would "
                                "get the same value; use constants")
            for name in names:
                if name in RAW_IDENTIFIERS:  # the door pseudonymises the field, not a copy of it
                    problems.append(f"{where}: {{{name}}} would copy a raw {name} into {field}, "
                                    "where it is not pseudonymised; derive from another field")
    return problems


def _check_value(field: str, value: Scalar, scope: Iterable[str], where: str) -> list[str]:
    """A value a mapping writes must be one the field accepts in at least one type in scope."""
    reasons = []
    for event_type in scope:
        adapter = _field_adapter(event_type, field)
        if adapter is None:
            if field in known_fields(event_type):
                return []  # a raw identifier: the door checks it
            continue
        try:
            adapter.validate_python(value)
            return []
        except ValidationError as e:
            reasons.append(e.errors(include_url=False)[0]["msg"])
    reason = reasons[0] if reasons else "not accepted"
    return [f"{where}: {value!r} is not a valid {field}: {reason}"]


@cache
def known_fields(event_type: str) -> frozenset[str]:
    """The fields an event of this type takes at a door: its schema's and raw identifiers."""
    cls = INGRESS_TYPES.get(event_type)
    if cls is None:
        return frozenset()
    raw = {field for field, types in RAW_IDENTIFIERS.items() if event_type in types}
    return frozenset(cls.model_fields) | raw


@cache
def _field_adapter(event_type: str, field: str) -> TypeAdapter[Any] | None:
    info = INGRESS_TYPES[event_type].model_fields.get(field)
    if info is None:
        return None
    annotation: Any = info.annotation
    if field == "event_type":  # each class fixes its own; any ingress type name is a value
        annotation = Literal[tuple(INGRESS_TYPES)]
    metadata = tuple(info.metadata)
    if metadata:
        annotation = Annotated[(annotation, *metadata)]
    return TypeAdapter(annotation)


def template_fields(template: str) -> tuple[str, ...]:
    """The fields a derive template names; ValueError for anything but plain `{field}`."""
    names = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ValueError(f"not a template ({e}); write literal braces as {{{{ and }}}}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name or name.isdigit():
            raise ValueError("a placeholder must name a field: {transaction_id}, not {}")
        if spec or conversion or any(c in name for c in ".[]"):
            raise ValueError(f"{{{name}}}: a placeholder is a field name only (no format, "
                             "conversion, attribute or index)")
        names.append(name)
    return tuple(names)


# --- applying, per record ----------------------------------------------------------------------


def apply(mapping: SourceMapping, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The record as the schema names it; `MappingRejection` names the field at fault."""
    values = _apply_operations(mapping, dict(raw))
    event_type = values.get("event_type")
    section = mapping.types.get(event_type) if isinstance(event_type, str) else None
    if section is not None:
        values = _apply_operations(section, values)
    derive = dict(mapping.derive)
    if section is not None:
        derive.update(section.derive)
    for field, template in derive.items():
        if _absent(values.get(field)):
            values[field] = render(template, values, field)
    if isinstance(event_type, str) and event_type in INGRESS_TYPES:
        _unknown(mapping, values, event_type)
    return values


def _apply_operations(ops: Operations, values: dict[str, Any]) -> dict[str, Any]:
    for name in ops.drop:
        values.pop(name, None)
    if ops.rename:
        renamed: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for name, value in values.items():
            new = ops.rename.get(name, name)
            if new in renamed and not _absent(value) and not _absent(renamed[new]):
                if renamed[new] != value:  # name the renamed one of the two
                    culprit = name if name in ops.rename else origin[new]
                    raise MappingRejection(culprit, f"is renamed to {new}, but the record has {new} "
                                                    "too, with another value")
                continue
            if new not in renamed or _absent(renamed[new]):
                renamed[new] = value
                origin[new] = name
        values = renamed
    for field, table in ops.values.items():
        value = values.get(field)
        key = value if isinstance(value, str) else (
            str(value) if isinstance(value, int) and not isinstance(value, bool) else None)
        if key is not None and key in table:
            values[field] = table[key]
    for field, value in ops.defaults.items():
        if _absent(values.get(field)):
            values[field] = value
    values.update(ops.constants)
    return values


def _absent(value: Any) -> bool:
    return value is None or value == ""


def render(template: str, values: Mapping[str, Any], field: str = "") -> str:
    """A derive template filled from the record: `MappingRejection` names a missing field."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if _absent(value):
            reason = f"needed to derive {field}" if field else "needed by a template"
            raise MappingRejection(name, f"Field required ({reason})")
        out.append(value if isinstance(value, str) else json.dumps(value))
    return "".join(out)


def _unknown(mapping: SourceMapping, values: dict[str, Any], event_type: str) -> None:
    known = known_fields(event_type)
    extra = [name for name in values if name not in known]
    if not extra:
        return
    source = values.get("source")
    if mapping.unknown == "reject":
        raise MappingRejection(extra[0], f"unknown field for a {event_type} event from source "
                                         f"{source!r} (its mapping may rename, drop or keep it)")
    attributes = values.get("attributes")
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        return  # the schema rejects it, naming the field
    attributes = dict(attributes)
    for name in extra:
        value = values.pop(name)
        if value is None:
            continue
        if name in attributes:
            raise MappingRejection(name, "kept in attributes, which has it already")
        attributes[name] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    values["attributes"] = attributes


def describe(mapping: SourceMapping) -> list[str]:
    """One mapping in lines for people (`clickpath mappings`)."""
    lines = [f"unknown fields: {mapping.unknown}"]
    sections: list[tuple[str, Operations]] = [("", mapping)]
    sections.extend((f"[{t}] ", ops) for t, ops in sorted(mapping.types.items()))
    for prefix, ops in sections:
        if prefix and ops.empty:
            continue
        if ops.drop:
            lines.append(f"{prefix}drop: {', '.join(ops.drop)}")
        for name, field in ops.rename.items():
            lines.append(f"{prefix}rename: {name} -> {field}")
        for field, table in ops.values.items():
            pairs = ", ".join(f"{k} -> {v}" for k, v in table.items())
            lines.append(f"{prefix}values of {field}: {pairs}")
        for field, value in ops.defaults.items():
            lines.append(f"{prefix}default: {field} = {value!r} (when absent)")
        for field, value in ops.constants.items():
            lines.append(f"{prefix}constant: {field} = {value!r}")
        for field, template in ops.derive.items():
            lines.append(f"{prefix}derive: {field} = {template!r} (when absent)")
    return lines
