"""What `clickpath up` promises operators and scripts: the banner's Kafka line, the role names."""

from __future__ import annotations

import json
import re

import pytest

from clickpath.domain.catalogue import AffiliateConfig
from clickpath.run.up import banner, demo_env, demo_roles, pipeline_roles
from clickpath.settings import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for var in ("CLICKPATH_AFFILIATES", "CLICKPATH_EGRESS_ALLOW", "CLICKPATH_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return Settings(kafka_bootstrap_servers="127.0.0.1:40123", broker_compat="tansu",
                    data_dir=tmp_path, partitions=2, http_port=8123)


def test_role_names_and_their_commands_are_stable() -> None:
    roles = pipeline_roles(2) + demo_roles(8088, 80.0)
    assert [(r.name, r.args) for r in roles] == [
        ("worker-0", ["worker", "--index", "0"]),
        ("worker-1", ["worker", "--index", "1"]),
        ("sink-clickhouse", ["sink", "clickhouse"]),
        ("sink-postbacks", ["sink", "postbacks"]),
        ("api", ["api"]),
        ("demo-receiver", ["demo", "receiver", "--port", "8088"]),
        ("demo-traffic", ["demo", "traffic", "--rate", "80.0"]),
    ]


def test_the_banner_line_scripts_read_for_the_broker(settings: Settings, tmp_path) -> None:
    text = banner(settings, tmp_path / "logs", ["a", "b"], tmp_path / "logs" / "demo-receiver.log")
    assert text.splitlines()[0] == "clickpath is up."
    assert "  Kafka:        127.0.0.1:40123 (embedded, in memory)" in text.splitlines()
    assert re.search(r"^\s+Kafka:\s+(\S+)", text, re.M).group(1) == "127.0.0.1:40123"
    assert "http://127.0.0.1:8123" in text and "clickpath status" in text
    assert "Topics made:  2 (2 partitions each)" in text and "demo-receiver.log" in text
    assert text.splitlines()[-1] == "Ctrl-C stops everything."


def test_demo_affiliates_post_back_to_the_demo_receiver(settings: Settings) -> None:
    env = demo_env(settings, "http://127.0.0.1:9999")
    affiliates = json.loads(env["CLICKPATH_AFFILIATES"])
    assert set(affiliates) == {"aff-alpha", "aff-beta", "aff-gamma"}
    assert all(a["postback_url"].startswith("http://127.0.0.1:9999/") for a in affiliates.values())
    assert "127.0.0.1/32" in json.loads(env["CLICKPATH_EGRESS_ALLOW"])


def test_configured_affiliates_are_not_replaced_by_the_demo_ones(settings: Settings) -> None:
    own = settings.with_overrides(
        affiliates={"aff-1": AffiliateConfig(name="One", postback_url="https://one/pb?c={click_id}")}
    )
    assert demo_env(own, "http://127.0.0.1:9999") == {}


def test_the_banner_never_prints_the_clickhouse_password(settings: Settings, tmp_path) -> None:
    with_password = settings.with_overrides(clickhouse_url="http://clickpath:s3cret@ch:8123")
    text = banner(with_password, tmp_path / "logs", [], None)
    assert "s3cret" not in text
    assert "  ClickHouse:   http://clickpath:***@ch:8123" in text.splitlines()
