"""What `clickpath up` promises operators and scripts: the banner's Kafka line, the role names."""

from __future__ import annotations

import json
import re

import pytest

from clickpath.devtools.demo import DEMO_BRANDS, demo_affiliates
from clickpath.domain.catalogue import AffiliateConfig
from clickpath.domain.tracking import Catalogue, tracking_links
from clickpath.infra.logs import human_renderer
from clickpath.run.supervisor import CONSOLE_MESSAGES
from clickpath.run.up import banner, cli_command, demo_env, demo_roles, pipeline_roles
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
    assert "  Kafka:        127.0.0.1:40123 (embedded, journaled to the data dir)" in text.splitlines()
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


def test_the_banner_commands_run_as_printed(settings: Settings, tmp_path) -> None:
    text = banner(settings, tmp_path / "logs", [], None, cli=".venv/bin/clickpath")
    lines = text.splitlines()
    assert "  Report:       .venv/bin/clickpath report  (in another terminal; --format csv|json)" in lines
    assert "  Status:       .venv/bin/clickpath status  (roles, PIDs; --format json)" in lines
    assert "  Links:        .venv/bin/clickpath links   (tracking links of every campaign)" in lines


def test_how_to_type_clickpath_depends_on_path(tmp_path) -> None:
    bin_dir = tmp_path / "checkout" / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python, script = bin_dir / "python", bin_dir / "clickpath"
    script.write_text("#!/bin/sh\n")
    checkout = tmp_path / "checkout"
    assert cli_command(str(python), None, checkout) == ".venv/bin/clickpath"  # not on PATH
    assert cli_command(str(python), str(script), checkout) == "clickpath"  # on PATH: this one
    other = tmp_path / "other-clickpath"
    other.write_text("#!/bin/sh\n")
    assert cli_command(str(python), str(other), checkout) == ".venv/bin/clickpath"  # another one
    assert cli_command(str(python), None, tmp_path / "elsewhere") == str(script)
    script.unlink()
    assert cli_command(str(python), None, checkout) == f"{python} -m clickpath.run.cli"


def test_role_lifecycle_lines_on_the_console_are_sentences() -> None:
    render = human_renderer(CONSOLE_MESSAGES)
    started = render(None, "info", {"event": "role_started", "role": "worker-0", "pid": 4242,
                                    "level": "info", "timestamp": "2026-01-05T10:00:00Z"})
    assert started.endswith(" clickpath: worker-0 started (pid 4242)") and "{" not in started
    died = render(None, "error", {"event": "role_died", "role": "api", "code": 1, "restart_in_s": 2.0,
                                  "log": "/d/logs/api.log", "level": "error"})
    assert died.endswith("clickpath: error: api exited with code 1; restarting it in 2 s"
                         " (its log: /d/logs/api.log)")
    other = render(None, "info", {"event": "something_else", "n": 3, "level": "info"})
    assert other.endswith("clickpath: something_else n=3")


def test_the_demo_campaigns_have_tracking_links() -> None:
    rows = tracking_links(Catalogue.build(demo_affiliates("http://127.0.0.1:9")), "http://t.example")
    assert {(r["affiliate_id"], r["campaign_id"]) for r in rows} == {
        ("aff-alpha", "spring-slots"), ("aff-alpha", "sports-weekend"), ("aff-beta", "live-casino"),
        ("aff-gamma", "welcome-bonus"), ("aff-gamma", "vip")}
    assert {r["brand_id"] for r in rows} == set(DEMO_BRANDS)
    assert all(r["url"].startswith("http://t.example/c/") for r in rows)
