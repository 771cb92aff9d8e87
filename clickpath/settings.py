"""All of clickpath's knobs, in one settings object.

Built once at an entry point (CLI command, worker, sink) and passed down; nothing deeper reads
the environment. Every field is `CLICKPATH_<NAME>` in the environment, or a key in the TOML
file named by `CLICKPATH_CONFIG`. Defaults run everything embedded on loopback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from clickpath.postback_template import validate_template

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_PSEUDONYM_KEY = "clickpath-dev-key-change-me"


class AffiliateConfig(BaseModel):
    """One affiliate: its name and where its server-to-server postbacks go."""

    name: str = ""
    postback_url: str | None = Field(
        default=None,
        description="URL template with macros such as {click_id} {event} {amount} {currency}.",
    )
    postback_events: list[Literal["registration", "ftd"]] = ["registration", "ftd"]

    @field_validator("postback_url")
    @classmethod
    def _known_macros(cls, value: str | None) -> str | None:
        if value is not None:
            validate_template(value)
        return value


class Settings(BaseSettings):
    """clickpath settings; see README "Settings" for the table of them."""

    model_config = SettingsConfigDict(env_prefix="CLICKPATH_", extra="ignore")

    # Where things run.
    data_dir: Path = Path(".clickpath")
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Existing Kafka cluster; unset runs the embedded broker."
    )
    clickhouse_url: str | None = Field(
        default=None, description="http://host:8123 or chdb:///dir; unset uses chdb in data_dir."
    )
    clickhouse_database: str = "clickpath"
    schema_registry_url: str | None = None
    schemas_dir: Path = REPO_ROOT / "schemas"
    topic_prefix: str = "clickpath"
    partitions: int = Field(default=4, ge=1, le=256)
    replication_factor: int = Field(default=1, ge=1)

    # HTTP service.
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # Processes.
    workers: int = Field(default=1, ge=1, le=16, description="Faust worker processes in `up`.")
    broker_compat: Literal["auto", "kafka", "tansu"] = Field(
        default="auto", description="Apply the embedded broker's workarounds (PLATFORM.md)."
    )
    table_store: Literal["rocksdb", "memory"] = "rocksdb"
    fetch_wait_ms: int = Field(default=10, ge=1, le=5000)
    producer_linger_ms: int = Field(
        default=2, ge=0, le=1000, description="How long Faust's producer waits to fill a batch."
    )

    agent_batch_max: int = Field(
        default=500, ge=1, le=10000, description="Most records an agent applies as one batch."
    )
    agent_batch_wait_ms: int = Field(
        default=5, ge=1, le=5000, description="How long an agent waits to fill a batch."
    )

    # Domain.
    attribution_lookback_days: int = Field(default=30, ge=1, le=365)
    dedup_recent_ids: int = Field(
        default=256, ge=16, description="Per-player window of event ids kept for dedup."
    )
    pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    affiliates: dict[str, AffiliateConfig] = {}

    # Sinks.
    sink_batch_size: int = Field(default=2000, ge=1)
    sink_flush_ms: int = Field(default=200, ge=1)
    postback_timeout_s: float = 5.0
    postback_max_attempts: int = Field(default=5, ge=1)
    postback_backoff_s: float = 0.2
    postback_backoff_max_s: float = Field(default=60.0, gt=0, description="Cap of one retry wait.")
    postback_concurrency: int = Field(default=64, ge=1)

    metrics_port: int | None = Field(
        default=None, description="Serve this role's /metrics here when run on its own."
    )
    reports_url: str | None = Field(
        default=None, description="Where the service asks for reports when ClickHouse is chdb."
    )

    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("CLICKPATH_CONFIG")
        if config_file:
            if not Path(config_file).is_file():
                raise FileNotFoundError(f"CLICKPATH_CONFIG={config_file} is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # Derived values, so that no caller re-derives them differently.
    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap_servers is None

    @property
    def tansu_compat(self) -> bool:
        if self.broker_compat == "auto":
            return self.embedded_broker
        return self.broker_compat == "tansu"

    @property
    def clickhouse_dsn(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def clickhouse_embedded(self) -> bool:
        return self.clickhouse_dsn.startswith("chdb:")

    @property
    def service_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}"

    def with_overrides(self, **overrides: Any) -> Settings:
        return self.model_copy(update=overrides)

    def to_env(self) -> dict[str, str]:
        """These settings as CLICKPATH_* variables, to hand to a child process."""
        env = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            if name == "pseudonym_key":
                value = self.pseudonym_key.get_secret_value()
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            env[f"CLICKPATH_{name.upper()}"] = text
        return env
