"""Avro in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro body.

One codec parses each schema once and turns bytes into models and back; everything inside the
pipeline sees models. Every way a record can fail to decode or validate becomes `DecodeError`,
which callers route to the dead-letter topic. Schema ids come from a Confluent-compatible
registry when one is configured, otherwise from `EmbeddedRegistry`, which derives them from
the schema text so that every process agrees with no server.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import fastavro
from fastavro.schema import to_parsing_canonical_form
from pydantic import ValidationError

from clickpath.contracts.models import ALL_RECORDS, Record

MAGIC = 0
_HEADER = struct.Struct(">bI")
_VERSION = re.compile(r"\.v(\d+)\.avsc$")
MODELS_BY_NAME: dict[str, type[Record]] = {cls.avro_name: cls for cls in ALL_RECORDS}


class DecodeError(ValueError):
    """A record that cannot become a valid model; the message is the dead-letter reason."""


def parse_record_schema(raw: dict[str, Any]) -> dict[str, Any]:
    """fastavro's parsed form of a record schema (every clickpath schema is a record)."""
    parsed = fastavro.parse_schema(raw)
    if not isinstance(parsed, dict):
        raise ValueError(f"{raw.get('name')}: a schema file holds one record schema")
    return parsed


@dataclass(frozen=True)
class SchemaFile:
    name: str
    version: int
    path: Path
    text: str

    @property
    def parsed(self) -> dict[str, Any]:
        return parse_record_schema(json.loads(self.text))

    @property
    def canonical(self) -> str:
        return to_parsing_canonical_form(json.loads(self.text))


def shipped_schemas_dir() -> Path:
    """The `.avsc` files installed with clickpath (package data of `clickpath.schemas`)."""
    return Path(str(resources.files("clickpath.schemas")))


def load_schema_files(schemas_dir: Path | None = None) -> list[SchemaFile]:
    """Every schema under `schemas_dir` (default: the shipped ones), each version separately."""
    schemas_dir = schemas_dir or shipped_schemas_dir()
    files = []
    for path in sorted(schemas_dir.rglob("*.avsc")):
        match = _VERSION.search(path.name)
        if not match:
            raise ValueError(f"{path}: schema files are named <type>.v<N>.avsc")
        text = path.read_text()
        raw = json.loads(text)
        name = f"{raw['namespace']}.{raw['name']}"
        files.append(SchemaFile(name, int(match.group(1)), path, text))
    if not files:
        raise ValueError(f"no .avsc files under {schemas_dir}")
    return files


def latest_versions(files: list[SchemaFile]) -> dict[str, SchemaFile]:
    latest: dict[str, SchemaFile] = {}
    for f in files:
        if f.name not in latest or f.version > latest[f.name].version:
            latest[f.name] = f
    return latest


class SchemaRegistry(Protocol):
    def writer_id(self, name: str) -> int: ...

    def writer_schema(self, schema_id: int) -> tuple[str, dict[str, Any]]: ...


def embedded_schema_id(canonical_form: str) -> int:
    """A stable id from the schema's canonical form: same schema, same id, in every process."""
    digest = hashlib.sha256(canonical_form.encode()).digest()
    return (int.from_bytes(digest[:4], "big") & 0x7FFFFFFF) or 1


class EmbeddedRegistry:
    """Schema ids derived from `schemas/`; old versions keep their ids so old data decodes."""

    def __init__(self, files: list[SchemaFile]) -> None:
        self._by_id: dict[int, tuple[str, dict[str, Any]]] = {}
        for f in files:
            sid = embedded_schema_id(f.canonical)
            if sid in self._by_id and self._by_id[sid][0] != f.name:
                raise ValueError(f"schema id collision between {f.name} and {self._by_id[sid][0]}")
            self._by_id[sid] = (f.name, f.parsed)
        self._writer_ids = {
            name: embedded_schema_id(f.canonical) for name, f in latest_versions(files).items()
        }

    def writer_id(self, name: str) -> int:
        return self._writer_ids[name]

    def writer_schema(self, schema_id: int) -> tuple[str, dict[str, Any]]:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise DecodeError(f"unknown schema id {schema_id}") from None


class RemoteRegistry:
    """A Confluent-compatible registry; subjects follow RecordNameStrategy (the full name)."""

    def __init__(self, url: str, files: list[SchemaFile]) -> None:
        from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

        self._client = SchemaRegistryClient({"url": url})
        self._schema_cls = Schema
        self._latest = latest_versions(files)
        self._writer_ids: dict[str, int] = {}
        self._by_id: dict[int, tuple[str, dict[str, Any]]] = {}

    def writer_id(self, name: str) -> int:
        if name not in self._writer_ids:
            f = self._latest[name]
            sid = self._client.register_schema(name, self._schema_cls(f.text, "AVRO"))
            self._writer_ids[name] = sid
            self._by_id[sid] = (name, f.parsed)
        return self._writer_ids[name]

    def writer_schema(self, schema_id: int) -> tuple[str, dict[str, Any]]:
        if schema_id not in self._by_id:
            try:
                text = self._client.get_schema(schema_id).schema_str
            except Exception as e:  # the client raises its own error types per HTTP status
                raise DecodeError(f"unknown schema id {schema_id}: {e}") from e
            raw = json.loads(text or "{}")
            name = f"{raw['namespace']}.{raw['name']}"
            self._by_id[schema_id] = (name, parse_record_schema(raw))
        return self._by_id[schema_id]


def _validation_reason(model: type[Record], error: ValidationError) -> str:
    parts = []
    for err in error.errors()[:5]:
        field = ".".join(str(p) for p in err["loc"]) or "(record)"
        parts.append(f"{field}: {err['msg']}")
    return f"invalid {model.__name__}: " + "; ".join(parts)


class Codec:
    """Bytes <-> models for every record clickpath knows."""

    def __init__(self, registry: SchemaRegistry, files: list[SchemaFile],
                 models: Mapping[str, type[Record]] = MODELS_BY_NAME) -> None:
        """`models`: the model of each schema name (a test's own stage adds its records)."""
        self._registry = registry
        self._reader_schemas = {n: f.parsed for n, f in latest_versions(files).items()}
        self._models = models
        # Per writer schema id: the reader schema to resolve it to, None when they are equal.
        # fastavro compares the two schemas deeply on every read otherwise (a fifth of a read).
        self._resolve: dict[int, dict[str, Any] | None] = {}

    def encode(self, record: Record) -> bytes:
        name = record.avro_name
        buf = io.BytesIO()
        buf.write(_HEADER.pack(MAGIC, self._registry.writer_id(name)))
        fastavro.schemaless_writer(buf, self._reader_schemas[name], record.model_dump())
        return buf.getvalue()

    def writer_schema(self, schema_id: int) -> tuple[str, dict[str, Any]]:
        """(record name, parsed writer schema) of a schema id; DecodeError if unknown."""
        return self._registry.writer_schema(schema_id)

    def decode(self, data: bytes | None) -> Record:
        if not data or len(data) < _HEADER.size:
            raise DecodeError("empty or truncated record: no Confluent wire-format header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise DecodeError(f"not Confluent wire format: magic byte {magic}, expected 0")
        name, writer = self._registry.writer_schema(schema_id)
        model = self._models.get(name)
        if model is None:
            raise DecodeError(f"schema {name} (id {schema_id}) is not a clickpath record")
        if schema_id not in self._resolve:
            reader = self._reader_schemas[name]
            self._resolve[schema_id] = None if writer == reader else reader
        body = io.BytesIO(data)
        body.seek(_HEADER.size)
        try:
            values = fastavro.schemaless_reader(body, writer, self._resolve[schema_id])
        except Exception as e:  # fastavro raises many types for corrupt bodies
            raise DecodeError(f"undecodable {name} body: {type(e).__name__}: {e}") from e
        if body.tell() != len(data):
            raise DecodeError(f"{len(data) - body.tell()} trailing bytes after the {name} record")
        try:
            return model.model_validate(values)
        except ValidationError as e:
            raise DecodeError(_validation_reason(model, e)) from e


def build_codec(schemas_dir: Path | None, schema_registry_url: str | None) -> Codec:
    files = load_schema_files(schemas_dir)
    registry: SchemaRegistry = (
        RemoteRegistry(schema_registry_url, files) if schema_registry_url else EmbeddedRegistry(files)
    )
    return Codec(registry, files)
