"""ClickHouse: where it is, how the sink writes to it, and the sink's report endpoint."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator


class ClickHouseSettings(BaseModel):
    """The database, the sink's batches, and where the service asks the sink for reports."""

    clickhouse_url: str | None = Field(
        default=None, description="http://host:8123 or chdb:///dir; unset uses chdb in data_dir."
    )
    clickhouse_database: str = "clickpath"
    sink_batch_size: int = Field(default=2000, ge=1)
    sink_flush_ms: int = Field(default=200, ge=1)
    reports_url: str | None = Field(
        default=None, description="Where the service asks for reports when ClickHouse is chdb."
    )
    reports_token: SecretStr | None = Field(
        default=None,
        description="The sink's report endpoint asks for it (`up` makes one per run).",
    )

    @field_validator("reports_url")
    @classmethod
    def _loopback_reports_url(cls, value: str | None) -> str | None:
        """The sink's report endpoint checks no API key (the service in front of it checks keys
        and scope, and hands it the per-run `reports_token`): it may only listen on loopback."""
        if value is None:
            return value
        host = urlsplit(value).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"reports_url must be a loopback address (127.0.0.1, ::1), not {host!r}")
        return value
