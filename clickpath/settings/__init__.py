"""All of clickpath's knobs, in one settings object.

Built once at an entry point (CLI command, worker, sink) and passed down; nothing deeper reads
the environment. Every field is `CLICKPATH_<NAME>` in the environment, or a key in the TOML
file named by `CLICKPATH_CONFIG`. Defaults run everything embedded on loopback.

The fields are grouped by concern, one module each (places, broker, stream, clickhouse,
ingress, http, privacy, attribution, identity, reports, delivery, commissions, invoices);
`Settings` here is the one object made of them, with where its values come from and the
values derived from several groups.
A group holds knobs only: no I/O beyond reading the files its settings name, no domain types of
its own. `tests/unit/test_settings_names.py` fails when a setting is dropped or renamed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from clickpath.settings.attribution import AttributionSettings
from clickpath.settings.broker import BrokerSettings
from clickpath.settings.clickhouse import ClickHouseSettings
from clickpath.settings.commissions import CommissionSettings
from clickpath.settings.delivery import DeliverySettings
from clickpath.settings.http import HttpSettings
from clickpath.settings.identity import IdentitySettings
from clickpath.settings.ingress import IngressSettings
from clickpath.settings.invoices import InvoiceSettings
from clickpath.settings.places import PlacesSettings, default_instances_dir
from clickpath.settings.privacy import (
    DEV_MASTER_KEY,
    DEV_PSEUDONYM_KEY,
    MIN_MASTER_KEY_BYTES,
    MIN_PSEUDONYM_KEY_BYTES,
    SHIPPED_MASTER_KEYS,
    SHIPPED_PSEUDONYM_KEYS,
    PrivacySettings,
)
from clickpath.settings.reports import ReportSettings
from clickpath.settings.stream import StreamSettings

__all__ = [
    "DEV_MASTER_KEY",
    "DEV_PSEUDONYM_KEY",
    "MIN_MASTER_KEY_BYTES",
    "MIN_PSEUDONYM_KEY_BYTES",
    "SHIPPED_MASTER_KEYS",
    "SHIPPED_PSEUDONYM_KEYS",
    "Settings",
    "default_instances_dir",
]


# Listed last group first: pydantic orders the fields (and runs the groups' model validators)
# from the last base to the first, so the fields read places, broker, stream ... invoices.
class Settings(
    InvoiceSettings,
    CommissionSettings,
    DeliverySettings,
    ReportSettings,
    IdentitySettings,
    AttributionSettings,
    PrivacySettings,
    HttpSettings,
    IngressSettings,
    ClickHouseSettings,
    StreamSettings,
    BrokerSettings,
    PlacesSettings,
    BaseSettings,
):
    """clickpath settings; docs/settings.md has the table of them."""

    model_config = SettingsConfigDict(env_prefix="CLICKPATH_", extra="ignore")

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

    # Derived values that span groups, so that no caller re-derives them differently.
    @property
    def clickhouse_dsn(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def clickhouse_embedded(self) -> bool:
        return self.clickhouse_dsn.startswith("chdb:")

    @property
    def endpoints_file(self) -> Path:
        return self.endpoints_path or self.data_dir / "endpoints.json"

    @property
    def key_store_path(self) -> Path:
        return self.api_keys_path or self.data_dir / "api-keys.json"

    @property
    def person_keys_path(self) -> Path:
        """The per-person data keys and erasure tombstones (docs/privacy.md#per-person-keys)."""
        return self.data_dir / "privacy" / "person-keys.sqlite3"

    @property
    def plans_path(self) -> Path:
        """The admin API's plan versions (configuration stays in CLICKPATH_CONFIG)."""
        return self.data_dir / "plans.json"

    @property
    def catalogue_path(self) -> Path:
        """Affiliates and campaigns added or changed through the admin API."""
        return self.data_dir / "catalogue.json"

    @property
    def identity_lookback(self) -> int:
        """The touchpoints' lookback in days: identity_lookback_days, else the contract
        attribution's (attribution_lookback_days)."""
        return self.identity_lookback_days or self.attribution_lookback_days

    @property
    def pseudonym_grace(self) -> int:
        """The pseudonym key's grace period in days: pseudonym_grace_days, else the identity
        window (identity_window_days): two accounts further apart than the window never link,
        so a longer grace links nothing more, and a shorter one loses pairs the window allows
        (docs/privacy.md#pseudonym-key-rotation)."""
        if self.pseudonym_grace_days is not None:
            return self.pseudonym_grace_days
        return self.identity_window_days

    @property
    def tracker_url(self) -> str:
        return (self.tracker_base_url or self.service_url).rstrip("/")

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
            secret = getattr(self, name)
            if isinstance(secret, SecretStr):  # the child needs the secret, not its mask
                value = secret.get_secret_value()
            elif isinstance(secret, dict) and any(isinstance(v, SecretStr) for v in secret.values()):
                value = {k: v.get_secret_value() if isinstance(v, SecretStr) else v
                         for k, v in secret.items()}  # the previous pseudonym keys
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            env[f"CLICKPATH_{name.upper()}"] = text
        return env
