from __future__ import annotations

import pytest
from pydantic import ValidationError

from clickpath.settings import Settings


def test_defaults_run_embedded_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CLICKPATH_KAFKA_BOOTSTRAP_SERVERS", "CLICKPATH_CLICKHOUSE_URL", "CLICKPATH_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert (s.http_host, s.http_port) == ("127.0.0.1", 8000)
    assert s.embedded_broker and s.tansu_compat and s.clickhouse_embedded
    assert s.clickhouse_dsn.startswith("chdb:///")


def test_environment_and_config_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "clickpath.toml"
    config.write_text(
        'partitions = 8\nclickhouse_url = "http://ch:8123"\n'
        '[affiliates.aff-1]\nname = "One"\npostback_url = "https://one/pb?c={click_id}"\n'
    )
    monkeypatch.setenv("CLICKPATH_CONFIG", str(config))
    monkeypatch.setenv("CLICKPATH_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("CLICKPATH_PARTITIONS", "6")  # the environment wins over the file
    s = Settings()
    assert s.partitions == 6
    assert s.kafka_bootstrap_servers == "kafka:9092" and not s.tansu_compat
    assert s.clickhouse_dsn == "http://ch:8123" and not s.clickhouse_embedded
    assert s.affiliates["aff-1"].postback_url == "https://one/pb?c={click_id}"


def test_bad_template_in_config_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKPATH_AFFILIATES", '{"a": {"postback_url": "https://x/?c={clik}"}}')
    with pytest.raises(ValueError, match=r"unknown postback macro"):
        Settings()


def test_the_sinks_report_endpoint_may_only_listen_on_loopback() -> None:
    """It has no key of its own: the service in front of it checks keys and scope."""
    for url in ("http://127.0.0.1:8001", "http://localhost:8001", "http://[::1]:8001"):
        assert Settings(reports_url=url).reports_url == url
    for url in ("http://0.0.0.0:8001", "http://10.0.0.5:8001", "http://reports.example:8001"):
        with pytest.raises(ValidationError, match="reports_url must be a loopback address"):
            Settings(reports_url=url)
