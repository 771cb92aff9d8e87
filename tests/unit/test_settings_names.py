"""Every setting keeps its name, its `CLICKPATH_<NAME>` variable and its default.

Operators' environments, config files and docs/settings.md name these; a setting dropped or
renamed (or a default changed) while the settings are reorganised must fail here, not in a
deployment. A new setting is added to DEFAULTS on purpose, with its row in docs/settings.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from clickpath.settings import Settings

# Every field and its default as `Settings().model_dump(mode="json")` gives it, in a clean
# environment (the pseudonym and master keys revealed). instances_dir depends on the environment: below.
DEFAULTS: dict[str, object] = {
    "data_dir": ".clickpath",
    "schemas_dir": None,
    "log_level": "info",
    "kafka_bootstrap_servers": None,
    "schema_registry_url": None,
    "topic_prefix": "clickpath",
    "partitions": 4,
    "replication_factor": 1,
    "broker_compat": "auto",
    "kafka_security_protocol": "PLAINTEXT",
    "kafka_sasl_mechanism": None,
    "kafka_sasl_username": None,
    "kafka_sasl_password": None,
    "kafka_ssl_ca_location": None,
    "workers": 1,
    "table_store": "rocksdb",
    "fetch_wait_ms": 10,
    "sink_fetch_wait_ms": 50,
    "producer_linger_ms": 2,
    "agent_batch_max": 500,
    "agent_batch_wait_ms": 5,
    "dedup_recent_ids": 256,
    "clickhouse_url": None,
    "clickhouse_database": "clickpath",
    "sink_batch_size": 2000,
    "sink_flush_ms": 200,
    "reports_url": None,
    "reports_token": None,
    "batch_linger_ms": 5,
    "api_keys_path": None,
    "ingress_ack_timeout_ms": 5000,
    "api_max_batch": 1000,
    "api_rate_per_s": 20000.0,
    "api_rate_burst": 20000,
    "idempotency_ttl_s": 86400,
    "mappings": {},
    "mappings_file": None,
    "event_time_earliest": "2000-01-01T00:00:00Z",
    "event_time_max_ahead_s": 86400,
    "http_host": "127.0.0.1",
    "http_port": 8000,
    "tracker_base_url": None,
    "tracker_client_ip_header": None,
    "tracker_proxy_hops": 1,
    "tracker_trusted_proxies": ["127.0.0.0/8", "::1"],
    "tracker_country_header": None,
    "collect_origins": [],
    "http_max_body_bytes": 2097152,
    "collect_max_body_bytes": 8192,
    "postback_max_body_bytes": 4096,
    "admin_max_body_bytes": 65536,
    "tracker_rate_per_s": 50.0,
    "tracker_rate_burst": 200,
    "collect_rate_per_s": 50.0,
    "collect_rate_burst": 200,
    "postback_rate_per_s": 1000.0,
    "postback_rate_burst": 2000,
    "rate_limit_buckets": 100000,
    "bot_click_rate_per_s": 2.0,
    "bot_click_burst": 30,
    "postback_query_key": True,
    "metrics_host": "127.0.0.1",
    "metrics_port": None,
    "pseudonym_key": "clickpath-dev-key-change-me",
    "master_key": "clickpath-dev-master-key-change-me",
    "pseudonym_key_version": 1,
    "pseudonym_key_started_at": None,
    "pseudonym_previous_keys": {},
    "pseudonym_grace_days": None,
    "pseudonym_token_key": None,
    "demo": False,
    "attribution_lookback_days": 30,
    "attribution_clock_skew_s": 300,
    "affiliates": {},
    "operators": {},
    "identity_prior": 0.0001,
    "identity_threshold": 6.0,
    "identity_device_id_m": 0.9,
    "identity_device_id_u": 1e-05,
    "identity_ip_prefix_m": 0.7,
    "identity_ip_prefix_u": 0.001,
    "identity_ua_family_m": 0.9,
    "identity_ua_family_u": 0.05,
    "identity_frequencies_file": None,
    "identity_refused": [],
    "identity_max_accounts": 10,
    "identity_window_days": 30,
    "identity_lookback_days": None,
    "identity_max_clicks": 50,
    "identity_max_per_account": 20,
    "reporting_currency": None,
    "fx_rates": [],
    "brand_time_zones": {},
    "affiliate_cpa": {},
    "plans": {},
    "commission_time_zone": "UTC",
    "postback_timeout_s": 5.0,
    "postback_max_attempts": 5,
    "postback_backoff_s": 0.2,
    "postback_backoff_max_s": 60.0,
    "endpoints": [],
    "endpoints_path": None,
    "egress_allow": [],
    "delivery_schedule_s": [5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 10800.0, 21600.0],
    "delivery_inline_retry_max_s": 30.0,
    "delivery_endpoint_concurrency": 8,
    "delivery_rate_per_s": 200.0,
    "delivery_rate_burst": 200,
    "circuit_failures": 5,
    "circuit_cooldown_s": 30.0,
    "delivery_max_pending": 20000,
    "delivery_commit_s": 0.5,
    "webhooks_enabled": False,
    "invoice_operator_name": "",
    "invoice_operator_address": "",
    "invoice_operator_country": None,
    "invoice_operator_vat_id": None,
    "invoice_number_prefix": "CP",
    "vat_rates": {},
    "invoice_pdf_font": None,
}


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No CLICKPATH_* variable and no config file; XDG_RUNTIME_DIR is tmp_path."""
    for var in list(os.environ):
        if var.startswith("CLICKPATH_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return tmp_path


def test_every_setting_keeps_its_name() -> None:
    names = set(Settings.model_fields)
    expected = {*DEFAULTS, "instances_dir"}
    assert sorted(expected - names) == [], "settings dropped or renamed"
    assert sorted(names - expected) == [], "new settings: add them to DEFAULTS (and docs/settings.md)"


def test_every_setting_has_its_row_in_docs_settings() -> None:
    """docs/settings.md names each setting (without the prefix) in a table row."""
    doc = (Path(__file__).parents[2] / "docs" / "settings.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", "\n".join(rows)))
    assert sorted(n for n in Settings.model_fields if n.upper() not in named) == []


def test_every_setting_is_read_from_clickpath_and_its_name() -> None:
    """No alias: the variable is CLICKPATH_ plus the field's name, as docs/settings.md says."""
    assert Settings.model_config["env_prefix"] == "CLICKPATH_"
    aliased = [name for name, field in Settings.model_fields.items()
               if field.alias is not None or field.validation_alias is not None]
    assert aliased == []


def test_every_variable_is_read(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each setting set through its CLICKPATH_<NAME> variable arrives (a few of each group)."""
    given = {"CLICKPATH_PARTITIONS": "7", "CLICKPATH_WORKERS": "3", "CLICKPATH_CLICKHOUSE_DATABASE": "x",
             "CLICKPATH_API_MAX_BATCH": "9", "CLICKPATH_HTTP_PORT": "8111", "CLICKPATH_DEMO": "true",
             "CLICKPATH_ATTRIBUTION_LOOKBACK_DAYS": "5", "CLICKPATH_REPORTING_CURRENCY": "EUR",
             "CLICKPATH_CIRCUIT_FAILURES": "2", "CLICKPATH_LOG_LEVEL": "debug",
             "CLICKPATH_EGRESS_ALLOW": "10.0.0.0/8, 192.168.0.0/16"}
    for var, value in given.items():
        monkeypatch.setenv(var, value)
    s = Settings()
    assert (s.partitions, s.workers, s.clickhouse_database) == (7, 3, "x")
    assert (s.api_max_batch, s.http_port, s.demo) == (9, 8111, True)
    assert (s.attribution_lookback_days, s.reporting_currency, s.circuit_failures) == (5, "EUR", 2)
    assert (s.log_level, s.egress_allow) == ("debug", ["10.0.0.0/8", "192.168.0.0/16"])


def test_every_default_is_kept(clean_env: Path) -> None:
    s = Settings()
    dumped = s.model_dump(mode="json")
    dumped["pseudonym_key"] = s.pseudonym_key.get_secret_value()
    dumped["master_key"] = s.master_key.get_secret_value()
    assert Path(dumped.pop("instances_dir")) == clean_env / "clickpath" / "instances"
    changed = {name: (DEFAULTS.get(name), dumped.get(name))
               for name in {*DEFAULTS, *dumped} if DEFAULTS.get(name) != dumped.get(name)}
    assert changed == {}


def test_settings_survive_the_trip_to_a_child_process(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`to_env` names every set value by its variable; a child reading them gets the same settings."""
    parent = Settings(partitions=6, http_port=8123, affiliate_cpa={"a1": "50.00 EUR"},
                      egress_allow=["10.0.0.0/8"])
    env = parent.to_env()
    assert set(env) <= {f"CLICKPATH_{name.upper()}" for name in Settings.model_fields}
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert Settings() == parent
