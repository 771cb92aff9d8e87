"""The ways in (HTTP doors, the operator SDK, import): batching, API limits, the source
mappings every door applies, and the event-time window every door enforces."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, PrivateAttr, ValidationInfo, field_validator

from clickpath.contracts.event_time import DEFAULT_EARLIEST, DEFAULT_MAX_AHEAD, EventTimeWindow
from clickpath.domain.mappings import MappingError, SourceMapping, parse_mappings


class IngressSettings(BaseModel):
    """Door batches, API keys and limits, idempotency, mappings, the event-time window."""

    batch_linger_ms: int = Field(
        default=5, ge=0, le=1000,
        description="How long a door holds an event to gather a batch record for its partition.",
    )
    api_keys_path: Path | None = Field(
        default=None, description="API key store; default <data_dir>/api-keys.json."
    )
    ingress_ack_timeout_ms: int = Field(
        default=5000, ge=100, description="How long a door waits for the broker's ack, then 503."
    )
    api_max_batch: int = Field(default=1000, ge=1, le=10000, description="Events per request.")
    api_rate_per_s: float = Field(default=20000, gt=0, description="Events/s per API key.")
    api_rate_burst: int = Field(default=20000, ge=1, description="Events a key may send at once.")
    idempotency_ttl_s: int = Field(default=86400, ge=60, description="Idempotency-Key memory.")

    # Source mappings (docs/mappings.md): each source's field names and values made the schema's
    # at every door, before validation. Inline `[mappings.<source>]` tables of CLICKPATH_CONFIG,
    # and/or a file of the same tables; both are checked here, so a bad mapping stops the start.
    mappings: dict[str, SourceMapping] = Field(
        default={}, description="Source -> mapping: the [mappings.<source>] tables of CLICKPATH_CONFIG."
    )
    mappings_file: Path | None = Field(
        default=None,
        description="A TOML file of [mappings.<source>] tables, or a folder of such *.toml files.",
    )
    _file_mappings: tuple[Path | None, dict[str, SourceMapping]] | None = PrivateAttr(default=None)

    # Data safety (docs/security.md): the event-time window every door enforces.
    event_time_earliest: AwareDatetime = Field(
        default=DEFAULT_EARLIEST, description="Doors reject events that occurred before this."
    )
    event_time_max_ahead_s: int = Field(
        default=int(DEFAULT_MAX_AHEAD.total_seconds()), ge=0, le=366 * 86400,
        description="Doors reject events more than this far past their arrival.",
    )

    @field_validator("mappings", mode="before")
    @classmethod
    def _valid_mappings(cls, value: object) -> object:
        return parse_mappings(value) if isinstance(value, dict) else value

    @field_validator("mappings_file")
    @classmethod
    def _valid_mappings_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        cls._read_mappings_file(path, info.data.get("mappings", {}))  # at start: fail early
        return path

    @classmethod
    def _read_mappings_file(cls, path: Path | None, inline: dict[str, Any]) -> dict[str, SourceMapping]:
        if path is None:
            return {}
        files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        found: dict[str, SourceMapping] = {}
        for file in files:
            for source, mapping in cls._mappings_in(file).items():
                if source in found or source in inline:
                    raise ValueError(f"{file}: {source!r} is mapped twice")
                found[source] = mapping
        return found

    @staticmethod
    def _mappings_in(file: Path) -> dict[str, SourceMapping]:
        """The `[mappings.<source>]` tables of one TOML file, checked (docs/mappings.md)."""
        try:
            with file.open("rb") as f:
                data = tomllib.load(f)
        except OSError as e:
            raise ValueError(f"{file}: cannot be read ({e.strerror or e})") from None
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{file}: not valid TOML ({e})") from None
        others = sorted(set(data) - {"mappings"})
        if others:
            raise ValueError(f"{file}: only [mappings.<source>] tables belong here, "
                             f"not {', '.join(others)}")
        try:
            return parse_mappings(data.get("mappings", {}))
        except MappingError as e:
            raise ValueError(f"{file}: {e}") from None

    @property
    def source_mappings(self) -> dict[str, SourceMapping]:
        """Every source's mapping: the inline ones and the file's (checked at start, read once)."""
        if self._file_mappings is None or self._file_mappings[0] != self.mappings_file:
            found = self._read_mappings_file(self.mappings_file, self.mappings)
            self._file_mappings = (self.mappings_file, found)
        return {**self.mappings, **self._file_mappings[1]}

    @property
    def event_time_window(self) -> EventTimeWindow:
        return EventTimeWindow(self.event_time_earliest, timedelta(seconds=self.event_time_max_ahead_s))
