"""All of clickpath's knobs, in one settings object.

Built once at an entry point (CLI command, worker, sink) and passed down; nothing deeper reads
the environment. Every field is `CLICKPATH_<NAME>` in the environment, or a key in the TOML
file named by `CLICKPATH_CONFIG`. Defaults run everything embedded on loopback.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AwareDatetime,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from clickpath.contracts.event_time import DEFAULT_EARLIEST, DEFAULT_MAX_AHEAD, EventTimeWindow
from clickpath.contracts.models import Currency
from clickpath.contracts.money import Money
from clickpath.domain.attribution import DEFAULT_CLOCK_SKEW_S, DEFAULT_LOOKBACK_DAYS
from clickpath.domain.catalogue import AffiliateConfig, tracking_code_clashes
from clickpath.domain.cohorts import check_time_zone
from clickpath.domain.endpoints import Endpoint
from clickpath.domain.fx import FxRate, FxTable
from clickpath.domain.mappings import MappingError, SourceMapping, parse_mappings
from clickpath.domain.retry_policy import DEFAULT_SCHEDULE

DEV_PSEUDONYM_KEY = "clickpath-dev-key-change-me"
# Keys that were ever shipped in this repository (source, docker-compose): public, so useless.
SHIPPED_PSEUDONYM_KEYS = frozenset({DEV_PSEUDONYM_KEY, "change-me-in-production"})
# HMAC-SHA256 keys shorter than its 32-byte output weaken every pseudonym; a short key is also
# one a person typed, which is guessable (docs/security.md#the-pseudonym-key).
MIN_PSEUDONYM_KEY_BYTES = 32


def default_instances_dir(environ: Mapping[str, str]) -> Path:
    """Per user: $XDG_RUNTIME_DIR/clickpath/instances (gone at logout, like the processes it
    names), else ~/.local/state/clickpath/instances."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "clickpath" / "instances"
    return Path.home() / ".local" / "state" / "clickpath" / "instances"


class Settings(BaseSettings):
    """clickpath settings; docs/settings.md has the table of them."""

    model_config = SettingsConfigDict(env_prefix="CLICKPATH_", extra="ignore")

    # Where things run.
    data_dir: Path = Path(".clickpath")
    instances_dir: Path = Field(
        default_factory=lambda: default_instances_dir(os.environ),
        description="Where each running `up` registers, so client commands find it from anywhere.",
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Existing Kafka cluster; unset runs the embedded broker."
    )
    clickhouse_url: str | None = Field(
        default=None, description="http://host:8123 or chdb:///dir; unset uses chdb in data_dir."
    )
    clickhouse_database: str = "clickpath"
    schema_registry_url: str | None = None
    schemas_dir: Path | None = Field(
        default=None, description="Schemas to use instead of the shipped ones (development)."
    )
    topic_prefix: str = "clickpath"
    partitions: int = Field(default=4, ge=1, le=256)
    replication_factor: int = Field(default=1, ge=1)

    # HTTP service.
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # Processes.
    workers: int = Field(default=1, ge=1, le=16, description="Faust worker processes in `up`.")
    broker_compat: Literal["auto", "kafka", "tansu"] = Field(
        default="auto",
        description="Apply the embedded broker's workarounds (docs/topics.md, 'The embedded broker').",
    )
    table_store: Literal["rocksdb", "memory"] = "rocksdb"
    fetch_wait_ms: int = Field(default=10, ge=1, le=5000)
    sink_fetch_wait_ms: int = Field(
        default=50, ge=1, le=5000,
        description="The sinks' fetch wait: each idle fetch costs the broker CPU (docs/topics.md).",
    )
    producer_linger_ms: int = Field(
        default=2, ge=0, le=1000, description="How long Faust's producer waits to fill a batch."
    )

    agent_batch_max: int = Field(
        default=500, ge=1, le=10000, description="Most records an agent applies as one batch."
    )
    agent_batch_wait_ms: int = Field(
        default=5, ge=1, le=5000, description="How long an agent waits to fill a batch."
    )

    # Ingress (HTTP doors, the operator SDK, import).
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
    def fx_table(self) -> FxTable | None:
        """The FX table of the reports, or None when no reporting currency is set."""
        if self.reporting_currency is None:
            return None
        return FxTable(self.reporting_currency, self.fx_rates)

    @property
    def source_mappings(self) -> dict[str, SourceMapping]:
        """Every source's mapping: the inline ones and the file's (checked at start, read once)."""
        if self._file_mappings is None or self._file_mappings[0] != self.mappings_file:
            found = self._read_mappings_file(self.mappings_file, self.mappings)
            self._file_mappings = (self.mappings_file, found)
        return {**self.mappings, **self._file_mappings[1]}

    # Click tracker and web SDK.
    tracker_base_url: str | None = Field(
        default=None, description="Public URL of the tracker in `clickpath links`; default the service's."
    )
    tracker_client_ip_header: str | None = Field(
        default=None,
        description="Take the visitor's IP from this header (X-Forwarded-For, CF-Connecting-IP);"
        " set it only behind a proxy that overwrites it. Unset: the TCP peer.",
    )
    tracker_proxy_hops: int = Field(
        default=1, ge=1, le=10, description="Trusted proxies that append to X-Forwarded-For."
    )
    tracker_trusted_proxies: list[str] = Field(
        default=["127.0.0.0/8", "::1"],
        description="Addresses or networks (CIDR) of the proxies whose client IP and country headers"
        " are believed; from any other peer they are ignored. Default: loopback only; []: none.",
    )

    @field_validator("tracker_trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"tracker_trusted_proxies: {entry!r} is not an IP address or "
                                 "network (CIDR)") from None
        return [entry.strip() for entry in value]

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(e, strict=False) for e in self.tracker_trusted_proxies)
    tracker_country_header: str | None = Field(
        default=None, description="Take the visitor's country from this header (CF-IPCountry)."
    )
    collect_origins: list[str] = Field(
        default=[], description="Origins allowed to POST /v1/collect besides the landing URLs'."
    )

    # HTTP hardening (docs/security.md): body caps, rate limits of the keyless doors and
    # postback-in, the click bot screen, where a role's own /metrics listens.
    http_max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Largest request body (the event API's)."
    )
    collect_max_body_bytes: int = Field(default=8192, ge=256, description="Body cap of /v1/collect.")
    postback_max_body_bytes: int = Field(default=4096, ge=0, description="Body cap of /v1/postback.")
    admin_max_body_bytes: int = Field(default=65536, ge=1024, description="Body cap of /v1/admin/*.")
    tracker_rate_per_s: float = Field(default=50, gt=0, description="Clicks/s per IP prefix.")
    tracker_rate_burst: int = Field(default=200, ge=1, description="Clicks an IP prefix may send at once.")
    collect_rate_per_s: float = Field(default=50, gt=0, description="/v1/collect requests/s per IP prefix.")
    collect_rate_burst: int = Field(default=200, ge=1)
    postback_rate_per_s: float = Field(
        default=1000, gt=0, description="/v1/postback requests/s per IP prefix and per key."
    )
    postback_rate_burst: int = Field(default=2000, ge=1)
    rate_limit_buckets: int = Field(
        default=100_000, ge=100, description="Rate-limit buckets kept per door (least recent go)."
    )
    bot_click_rate_per_s: float = Field(
        default=2, gt=0, description="Clicks/s from one IP beyond which clicks count as a bot's."
    )
    bot_click_burst: int = Field(default=30, ge=1)
    postback_query_key: bool = Field(
        default=True, description="Accept postback-in's key as ?key= (it lands in access logs)."
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address a role's own /metrics listener binds."
    )

    # Domain.
    attribution_lookback_days: int = Field(default=DEFAULT_LOOKBACK_DAYS, ge=1, le=365)
    attribution_clock_skew_s: int = Field(
        default=DEFAULT_CLOCK_SKEW_S, ge=0, le=86400,
        description="A click up to this many seconds after the registration still counts "
        "(the tracker's and the operator's clocks differ; docs/touchpoints.md).",
    )
    dedup_recent_ids: int = Field(
        default=256, ge=16, description="Per-player window of event ids kept for dedup."
    )
    pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    affiliates: dict[str, AffiliateConfig] = {}

    # Reports: amounts also in one reporting currency, at effective-dated rates (domain/fx.py).
    reporting_currency: Currency | None = Field(
        default=None, description="Add each report amount in this currency too (e.g. EUR)."
    )
    fx_rates: list[FxRate] = Field(
        default=[], description="[{currency, rate, effective_from}]: one unit's worth in the"
        " reporting currency from that day on (config file [[fx_rates]] or JSON)."
    )

    # Cohorts (docs/cohorts.md): each brand's time zone for its weeks and months, and a CPA per
    # affiliate for CPA-to-LTV until commission plans exist.
    brand_time_zones: dict[str, str] = Field(
        default={}, description="Brand -> IANA time zone of its cohorts (default UTC)."
    )
    affiliate_cpa: dict[str, str] = Field(
        default={}, description='Affiliate -> CPA per first-time depositor, e.g. "50.00 EUR".'
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

    @field_validator("brand_time_zones")
    @classmethod
    def _valid_time_zones(cls, value: dict[str, str]) -> dict[str, str]:
        for brand, zone in value.items():
            check_time_zone(zone, f"brand_time_zones[{brand!r}]")
        return value

    @field_validator("affiliate_cpa")
    @classmethod
    def _valid_cpa(cls, value: dict[str, str]) -> dict[str, str]:
        for affiliate, text in value.items():
            try:
                cpa = Money.parse(text)
            except ValueError as e:
                raise ValueError(f"affiliate_cpa[{affiliate!r}]: {e}") from None
            if cpa.amount < 0:
                raise ValueError(f"affiliate_cpa[{affiliate!r}]: a CPA cannot be negative")
        return value

    @property
    def affiliate_cpa_money(self) -> dict[str, Money]:
        """The configured CPA of each affiliate as Money (checked at start)."""
        return {affiliate: Money.parse(text) for affiliate, text in self.affiliate_cpa.items()}

    # Sinks.
    sink_batch_size: int = Field(default=2000, ge=1)
    sink_flush_ms: int = Field(default=200, ge=1)
    postback_timeout_s: float = 5.0
    postback_max_attempts: int = Field(default=5, ge=1)
    postback_backoff_s: float = 0.2
    postback_backoff_max_s: float = Field(default=60.0, gt=0, description="Cap of one retry wait.")

    # Delivery engine (postbacks and webhooks).
    endpoints: list[Endpoint] = Field(
        default=[], description="Postback and webhook endpoints (besides affiliates' postback_url)."
    )
    endpoints_path: Path | None = Field(
        default=None, description="Endpoints added by CLI/admin API; default <data_dir>/endpoints.json."
    )
    egress_allow: Annotated[list[str], NoDecode] = Field(
        default=[], description="CIDRs deliveries may reach although private/loopback (SSRF guard)."
    )
    delivery_schedule_s: list[float] | None = Field(
        default=list(DEFAULT_SCHEDULE),
        description="Retry delays (±10 % jitter), about 11 h in all; null: exponential backoff "
        "with full jitter from postback_backoff_s up to postback_backoff_max_s, "
        "postback_max_attempts attempts.",
    )
    delivery_inline_retry_max_s: float = Field(
        default=30.0, ge=0, description="Retries due sooner stay in memory; later ones are parked."
    )
    delivery_endpoint_concurrency: int = Field(default=8, ge=1, le=256)
    delivery_rate_per_s: float = Field(default=200.0, gt=0, description="Requests/s per endpoint.")
    delivery_rate_burst: int = Field(default=200, ge=1)
    circuit_failures: int = Field(default=5, ge=1, description="Failures in a row that open it.")
    circuit_cooldown_s: float = Field(default=30.0, gt=0, description="Open this long, then probe.")
    delivery_max_pending: int = Field(default=20000, ge=1, description="Deliveries in memory.")
    delivery_commit_s: float = Field(default=0.5, gt=0)
    webhooks_enabled: bool = Field(
        default=False, description="Read canonical events for webhooks even before one is set up."
    )

    @field_validator("egress_allow", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):  # CIDRs, comma-separated, or a JSON list (to_env writes one)
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    metrics_port: int | None = Field(
        default=None, description="Serve this role's /metrics here when run on its own."
    )
    reports_url: str | None = Field(
        default=None, description="Where the service asks for reports when ClickHouse is chdb."
    )
    reports_token: SecretStr | None = Field(
        default=None,
        description="The sink's report endpoint asks for it (`up` makes one per run).",
    )

    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # Data safety (docs/security.md): the event-time window every door enforces.
    event_time_earliest: AwareDatetime = Field(
        default=DEFAULT_EARLIEST, description="Doors reject events that occurred before this."
    )
    event_time_max_ahead_s: int = Field(
        default=int(DEFAULT_MAX_AHEAD.total_seconds()), ge=0, le=366 * 86400,
        description="Doors reject events more than this far past their arrival.",
    )

    @property
    def event_time_window(self) -> EventTimeWindow:
        return EventTimeWindow(self.event_time_earliest, timedelta(seconds=self.event_time_max_ahead_s))

    # Data safety: pseudonyms need a key of your own, except in the demo.
    demo: bool = Field(
        default=False,
        description="Set by `clickpath up --demo` for its roles: the shipped pseudonym key is "
        "accepted. Never set it in production.",
    )

    @property
    def pseudonym_key_is_shipped(self) -> bool:
        """No key was set, or one shipped in the repository (anyone can reverse its pseudonyms)."""
        key = self.pseudonym_key.get_secret_value().strip()
        return not key or key in SHIPPED_PSEUDONYM_KEYS

    @property
    def pseudonym_key_too_short(self) -> bool:
        """A key of our own, but under MIN_PSEUDONYM_KEY_BYTES (UTF-8): too weak to keep."""
        return len(self.pseudonym_key.get_secret_value().strip().encode()) < MIN_PSEUDONYM_KEY_BYTES

    # Kafka TLS and SASL (a production cluster; docs/security.md). Unset: PLAINTEXT.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How every client talks to Kafka."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: Path | None = Field(
        default=None, description="CA bundle (PEM) to verify the brokers; default the system's."
    )

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_mechanism, kafka_sasl_username and kafka_sasl_password"
            )
        return self

    @model_validator(mode="after")
    def _unique_tracking_codes(self) -> Settings:
        clashes = tracking_code_clashes(self.affiliates)
        if clashes:
            raise ValueError(f"tracking codes must be unique: {'; '.join(clashes)}")
        return self

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
    def endpoints_file(self) -> Path:
        return self.endpoints_path or self.data_dir / "endpoints.json"

    @property
    def key_store_path(self) -> Path:
        return self.api_keys_path or self.data_dir / "api-keys.json"

    @property
    def catalogue_path(self) -> Path:
        """Affiliates and campaigns added or changed through the admin API."""
        return self.data_dir / "catalogue.json"

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
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            env[f"CLICKPATH_{name.upper()}"] = text
        return env
