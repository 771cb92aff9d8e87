"""The monitoring files under deploy/ parse, and use only metrics and labels clickpath exports.

The exported names come from clickpath.infra.metrics itself (one label set of each metric touched,
then rendered with generate_latest), so renaming a metric or a label there fails these tests
until the alerts and the dashboard follow.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from clickpath.infra import metrics

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "clickpath-dashboard.json"
COMPOSE = ROOT / "docker-compose.yml"

SEVERITIES = {"warning", "critical"}
TARGET_LABELS = {"instance", "job"}  # added by Prometheus to every scraped series

METRIC_RE = re.compile(r"\bclickpath_[a-z0-9_]+")
SELECTOR_RE = re.compile(r"\b(clickpath_[a-z0-9_]+)\s*(\{[^}]*\})?")
MATCHER_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"')
GROUPING_RE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
AGGREGATION_RE = re.compile(
    r"\b(?:sum|avg|min|max|count|group|stddev|stdvar|topk|bottomk|quantile)\s*"
    r"(?:(by|without)\s*\(([^)]*)\))?\s*\("
)


@pytest.fixture(scope="module")
def exported() -> dict[str, frozenset[str]]:
    """Sample name -> its label names, as clickpath's /metrics exposes them."""
    collectors = [m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)]
    assert collectors, "clickpath.infra.metrics defines no metrics"
    touched = []
    for metric in collectors:
        values = ["monitoring-test"] * len(metric._labelnames)
        metric.labels(*values)
        touched.append((metric, values))
    try:
        text = generate_latest(REGISTRY).decode()
    finally:
        for metric, values in touched:
            metric.remove(*values)
    samples: dict[str, frozenset[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            # _created is not served under `clickpath up` (multiprocess mode): never use it.
            if sample.name.startswith("clickpath_") and not sample.name.endswith("_created"):
                samples[sample.name] = samples.get(sample.name, frozenset()) | frozenset(sample.labels)
    return samples


def _labels(text: str) -> set[str]:
    return {name.strip() for name in text.split(",") if name.strip()}


def _argument(expr: str, start: int) -> str:
    """The parenthesised text opening at expr[start]."""
    depth = 0
    for i in range(start, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[i], 0)
        if depth == 0:
            return expr[start : i + 1]
    raise AssertionError(f"unbalanced parentheses in {expr!r}")


def _metrics_in(expr: str) -> set[str]:
    return set(METRIC_RE.findall(expr))


def check_expr(expr: str, exported: dict[str, frozenset[str]]) -> None:
    """Every clickpath metric in expr is exported, with every label matched or grouped on."""
    for name in _metrics_in(expr):
        assert name in exported, f"{name} is not exported by clickpath.infra.metrics (in {expr!r})"
    for match in SELECTOR_RE.finditer(expr):
        name, matchers = match.group(1), match.group(2) or ""
        for label in MATCHER_RE.findall(matchers):
            assert label in exported[name], f"{name} has no label {label!r} (in {expr!r})"
    for match in GROUPING_RE.finditer(expr):
        keyword, labels = match.group(1), _labels(match.group(2))
        rest = expr[match.end() :]
        if keyword in ("by", "without") and rest.lstrip().startswith("("):
            scope = _argument(expr, match.end() + len(rest) - len(rest.lstrip()))
        else:  # on/ignoring/group_*: both sides of the operation; postfix `by`: the whole expr
            scope = expr
        for name in _metrics_in(scope):
            missing = labels - exported[name]
            assert not missing, f"{keyword} ({', '.join(sorted(missing))}): not labels of {name} in {expr!r}"


def check_output_labels(used: set[str], expr: str, exported: dict[str, frozenset[str]]) -> None:
    """Labels a legend or an annotation shows must survive the expression's aggregations."""
    names = _metrics_in(expr)
    if not names:
        return
    known = set().union(*(exported[n] for n in names)) | TARGET_LABELS
    for label in used:
        assert label in known, f"{label!r} is not a label of {sorted(names)} in {expr!r}"
    for match in AGGREGATION_RE.finditer(expr):
        if match.group(1) == "without":
            continue
        kept = _labels(match.group(2) or "")
        assert used <= kept, f"{sorted(used - kept)} aggregated away by {match.group(0)!r} in {expr!r}"


def _rules() -> list[dict]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_exported_catalog_covers_every_metric(exported):
    assert "clickpath_events_total" in exported
    assert exported.get("clickpath_event_latency_seconds_bucket") == {"stage", "le"}
    assert exported.get("clickpath_consumer_lag") == {"stage"}


def test_alert_rules_are_well_formed():
    doc = yaml.safe_load(ALERTS.read_text())
    assert doc["groups"], "no rule groups"
    names = []
    for group in doc["groups"]:
        assert group["name"] and group["rules"], group
        for rule in group["rules"]:
            names.append(rule["alert"])
            assert rule["expr"].strip(), rule["alert"]
            assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
            assert rule["annotations"]["summary"].strip(), rule["alert"]
            assert rule["annotations"]["description"].strip(), rule["alert"]
    assert len(names) == len(set(names)), "duplicate alert names"


def test_alerts_use_exported_metrics_and_labels(exported):
    for rule in _rules():
        check_expr(rule["expr"], exported)
        shown = " ".join(rule["annotations"].values())
        used = set(re.findall(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)", shown))
        check_output_labels(used, rule["expr"], exported)


def test_alerts_cover_the_pipeline():
    exprs = {rule["alert"]: rule["expr"] for rule in _rules()}
    text = " ".join(exprs.values())
    assert 'stage="postback_delivered"' in text and "> 0.25" in text
    assert 'stage="clickhouse"' in text
    for metric in ("clickpath_processing_seconds_bucket", "clickpath_consumer_lag",
                   "clickpath_dead_letters_total", "clickpath_role_restarts_total",
                   "clickpath_events_total"):
        assert metric in text, f"no alert on {metric}"


def test_every_metric_named_in_the_files_exists(exported):
    """Descriptions and panel help text must not point at metrics that are gone."""
    histograms = {n.removesuffix("_bucket") for n in exported if n.endswith("_bucket")}
    for path in (ALERTS, DASHBOARD):
        for name in METRIC_RE.findall(path.read_text()):
            assert name in exported or name in histograms, (
                f"{path.name} names {name}, which clickpath does not export"
            )


def test_dashboard_is_well_formed():
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in dashboard["panels"]:
        assert panel["targets"], f"panel {panel['title']!r} has no targets"
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]


def test_dashboard_uses_exported_metrics_and_labels(exported):
    for panel in _dashboard()["panels"]:
        for target in panel["targets"]:
            check_expr(target["expr"], exported)
            used = set(re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", target.get("legendFormat", "")))
            check_output_labels(used, target["expr"], exported)


def test_prometheus_config_loads_the_rules_and_scrapes_compose_services(exported):
    config = yaml.safe_load(PROMETHEUS.read_text())
    rule_files = [PROMETHEUS.parent / f for f in config["rule_files"]]
    assert ALERTS in rule_files and all(f.is_file() for f in rule_files)

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "clickpath")
    assert job.get("metrics_path", "/metrics") == "/metrics"
    scraped = []
    for static in job.get("static_configs", []):
        scraped += [tuple(t.rsplit(":", 1)) for t in static["targets"]]
    for dns in job.get("dns_sd_configs", []):
        scraped += [(name, str(dns["port"])) for name in dns["names"]]
    assert ("api", "8000") in scraped, "the HTTP service's /metrics is not scraped"
    for host, port in scraped:
        assert host in services, f"{host} is not a docker-compose service"
        service = services[host]
        ports = {str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])}
        ports.add(str(service.get("environment", {}).get("CLICKPATH_METRICS_PORT")))
        assert port in ports, f"{host} serves no metrics on port {port}"

    # A target label named like a metric label would rename the metric's to exported_<name>.
    metric_labels = set().union(*exported.values())
    added = {k for static in job.get("static_configs", []) for k in static.get("labels", {})}
    added |= {r["target_label"] for r in job.get("relabel_configs", []) if "target_label" in r}
    assert not added & metric_labels, f"target labels clash with metric labels: {added & metric_labels}"


def test_latency_counts_from_receipt_and_event_time_lag_is_its_own_metric() -> None:
    """A click backdated 14 days and received a second ago is a 1 s delay for the latency
    histogram (the alerts' series) and a 14-day lag in the event-time lag histogram, whose
    buckets reach weeks."""
    from prometheus_client.utils import floatToGoString

    from clickpath.contracts.models import utcnow

    def count(name: str, stage: str, le: float | None = None) -> float:
        labels = {"stage": stage} | ({"le": floatToGoString(le)} if le else {})
        return REGISTRY.get_sample_value(name, labels) or 0.0

    stage = "monitoring-lag-test"
    received = utcnow() - timedelta(seconds=1)
    metrics.observe_event_latency(stage, received)
    metrics.observe_event_time_lag(stage, received - timedelta(days=14), received)
    try:
        assert count("clickpath_event_latency_seconds_bucket", stage, 2.5) == 1
        assert count("clickpath_event_time_lag_seconds_bucket", stage, 7 * 86400) == 0
        assert count("clickpath_event_time_lag_seconds_bucket", stage, 14 * 86400) == 1
        assert max(metrics.EVENT_TIME_LAG_BUCKETS) >= 30 * 86400
    finally:
        metrics.EVENT_LATENCY.remove(stage)
        metrics.EVENT_TIME_LAG.remove(stage)
