"""The .avsc files are the contract: models must match them and versions must evolve safely."""

from __future__ import annotations

import json
import typing
from datetime import date, datetime
from decimal import Decimal
from types import NoneType, UnionType

import fastavro
import pytest
from pydantic import AwareDatetime

from clickpath.contracts.models import ALL_RECORDS, INGRESS_TYPES, Record
from clickpath.contracts.schema_evolution import backward_incompatibilities
from clickpath.contracts.serde import MODELS_BY_NAME, load_schema_files
from clickpath.settings import Settings

FILES = load_schema_files(Settings().schemas_dir)
LATEST = {f.name: f for f in sorted(FILES, key=lambda f: f.version)}
ENVELOPE = ["event_id", "event_type", "occurred_at", "received_at", "brand_id", "source"]

AVRO_TO_PY = {
    "string": str, "boolean": bool, "int": int, "long": int, "bytes": bytes,
    "timestamp-millis": datetime, "date": date, "decimal": Decimal, "double": float,
}


def _avro_python(avro_type: typing.Any) -> tuple[type, bool]:
    """(python type, nullable) for an Avro field type."""
    if isinstance(avro_type, list):
        inner = [t for t in avro_type if t != "null"]
        assert len(inner) == 1, f"only [null, T] unions are used: {avro_type}"
        return _avro_python(inner[0])[0], True
    if isinstance(avro_type, dict) and avro_type["type"] == "array":
        return list, False
    if isinstance(avro_type, dict) and avro_type["type"] == "map":
        return dict, False
    if isinstance(avro_type, dict):
        return AVRO_TO_PY[avro_type.get("logicalType") or avro_type["type"]], False
    return AVRO_TO_PY[avro_type], False


def _model_python(annotation: typing.Any) -> tuple[type, bool]:
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, UnionType):
        inner = [a for a in args if a is not NoneType]
        return _model_python(inner[0])[0], NoneType in args
    if origin is typing.Annotated:
        return _model_python(args[0])
    if origin is list:
        return list, False
    if origin is dict:
        return dict, False
    if origin is typing.Literal:
        return type(args[0]), False
    if annotation is AwareDatetime:
        return datetime, False
    return annotation, False


def test_every_schema_file_parses_and_has_a_model() -> None:
    for f in FILES:
        fastavro.parse_schema(json.loads(f.text))
        assert f.name in MODELS_BY_NAME, f"{f.path} has no model in clickpath.contracts.models"
    assert {m.avro_name for m in ALL_RECORDS} == set(LATEST)


@pytest.mark.parametrize("model", ALL_RECORDS, ids=lambda m: m.__name__)
def test_model_matches_its_schema(model: type[Record]) -> None:
    schema = json.loads(LATEST[model.avro_name].text)
    avro_fields = {f["name"]: f for f in schema["fields"]}
    assert list(avro_fields) == list(model.model_fields), "same fields, same order"
    hints = typing.get_type_hints(model, include_extras=True)
    for name, field in avro_fields.items():
        avro_type, avro_nullable = _avro_python(field["type"])
        py_type, py_nullable = _model_python(hints[name])
        assert py_type is avro_type, f"{model.__name__}.{name}: {py_type} vs Avro {avro_type}"
        assert py_nullable == avro_nullable, f"{model.__name__}.{name}: nullability differs"
        if avro_nullable:
            assert field.get("default", "missing") is None, f"{name}: nullable needs default null"


@pytest.mark.parametrize("event_type", sorted(INGRESS_TYPES))
def test_ingress_schemas_carry_the_envelope(event_type: str) -> None:
    schema = json.loads(LATEST[INGRESS_TYPES[event_type].avro_name].text)
    assert [f["name"] for f in schema["fields"][:6]] == ENVELOPE


def test_design_lists_every_ingress_type() -> None:
    assert set(INGRESS_TYPES) == {
        "click", "registration", "kyc", "login", "deposit", "withdrawal", "chargeback", "wager",
        "bonus", "consent", "responsible_gaming", "erasure_request",
    }


def test_consecutive_versions_are_backward_compatible() -> None:
    by_name: dict[str, list] = {}
    for f in FILES:
        by_name.setdefault(f.name, []).append(f)
    for versions in by_name.values():
        versions.sort(key=lambda f: f.version)
        assert [f.version for f in versions] == list(range(1, len(versions) + 1))
        for old, new in zip(versions, versions[1:], strict=False):
            problems = backward_incompatibilities(json.loads(old.text), json.loads(new.text))
            assert not problems, f"{new.path}: {problems}"


def test_compatibility_check_catches_breaking_changes() -> None:
    v1 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}
    added_ok = {**v1, "fields": v1["fields"] + [{"name": "b", "type": ["null", "string"], "default": None}]}
    added_bad = {**v1, "fields": v1["fields"] + [{"name": "b", "type": "string"}]}
    retyped = {**v1, "fields": [{"name": "a", "type": "long"}]}
    assert backward_incompatibilities(v1, added_ok) == []
    assert backward_incompatibilities(v1, added_bad) == ["new field 'b' has no default"]
    assert "changed type" in backward_incompatibilities(v1, retyped)[0]
    # And fastavro agrees: v2 with a default reads v1 data.
    import io

    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(v1), {"a": "x"})
    buf.seek(0)
    read = fastavro.schemaless_reader(buf, fastavro.parse_schema(v1), fastavro.parse_schema(added_ok))
    assert read == {"a": "x", "b": None}
