"""Prometheus metrics, labelled by stage, topic and outcome only (never by player or click).

Under `clickpath up` every role is a separate process; the supervisor points them all at one
PROMETHEUS_MULTIPROC_DIR and the HTTP service's /metrics aggregates them, so an SRE scrapes
one endpoint. A role run on its own (production) serves /metrics on CLICKPATH_METRICS_PORT.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

from clickpath.contracts.models import utcnow

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# Event-time lag is how late events are when they reach clickpath: seconds for a live tracker,
# days for an import or the demo's backdated history, so its buckets run from a minute to weeks.
_MINUTE, _HOUR, _DAY = 60, 3600, 86400
EVENT_TIME_LAG_BUCKETS = (
    1, 10, _MINUTE, 5 * _MINUTE, 15 * _MINUTE, _HOUR, 6 * _HOUR, _DAY, 2 * _DAY, 7 * _DAY,
    14 * _DAY, 30 * _DAY, 90 * _DAY, 365 * _DAY,
)

EVENTS = Counter(
    "clickpath_events_total", "Records handled by a stage, by outcome.", ["stage", "outcome"]
)
DEAD_LETTERS = Counter(
    "clickpath_dead_letters_total", "Records sent to the dead-letter topic.", ["stage"]
)
EVENT_LATENCY = Histogram(
    "clickpath_event_latency_seconds",
    "From when clickpath received the event (received_at) to the end of a stage (processed, "
    "postback delivered, ClickHouse written): clickpath's own delay, whatever the event's time.",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
EVENT_TIME_LAG = Histogram(
    "clickpath_event_time_lag_seconds",
    "How late an event reached clickpath: received_at - occurred_at (imports, backdated events, "
    "a tracker or back end that buffers), observed once per event by the stage that reads it.",
    ["stage"],
    buckets=EVENT_TIME_LAG_BUCKETS,
)
PROCESSING_TIME = Histogram(
    "clickpath_processing_seconds",
    "Time a stage spends handling one record (Faust agents) or one batch (sinks).",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
REGISTRATIONS_UNATTRIBUTED = Counter(
    "clickpath_registrations_unattributed_total",
    "Registrations whose named click was decided not to count, by reason (other_brand, "
    "click_after_registration, outside_lookback).",
    ["reason"],
)
IDENTITY_REFUSED = Counter(
    "clickpath_identity_refused_total",
    "Identifier values that never link: on the refused list or empty, by kind and reason.",
    ["kind", "reason"],
)
IDENTIFIERS_SHARED = Counter(
    "clickpath_identifiers_shared_total",
    "Identifiers seen on more accounts than identity_max_accounts: they stop linking and the"
    " links that rested on them are undone, by kind.",
    ["kind"],
)
IDENTITY_UNMERGES = Counter(
    "clickpath_identity_unmerges_total",
    "Accounts split from a person, by reason: link_removed (a shared identifier, a score that"
    " fell) or unmerge_request (an operator's unmerge).",
    ["reason"],
)
IDENTITY_ERASURES = Counter(
    "clickpath_identity_erasures_total",
    "Brand accounts erased from the identity graph (docs/privacy.md#erasure), by the source of"
    " the erasure request.",
    ["source"],
)
CLICKHOUSE_ROWS = Counter(
    "clickpath_clickhouse_rows_total", "Rows written to ClickHouse.", ["table"]
)
CONSUMER_LAG = Gauge(
    "clickpath_consumer_lag",
    "Records behind the end of the input topics, per consuming stage.",
    ["stage"],
    multiprocess_mode="livemax",
)
DELIVERY_ATTEMPTS = Counter(
    "clickpath_delivery_attempts_total",
    "Delivery attempts (and decisions not to attempt) by kind and outcome.",
    ["kind", "outcome"],
)
DELIVERY_OUTCOMES = Counter(
    "clickpath_deliveries_total",
    "Deliveries ended, by kind (postback, webhook) and final outcome.",
    ["kind", "outcome"],
)
DELIVERIES_PENDING = Gauge(
    "clickpath_deliveries_pending",
    "Deliveries read but not ended yet (in a lane, waiting for a retry, or in flight).",
    ["stage"],
    multiprocess_mode="livemax",
)
# Per endpoint: endpoints are configured (tens, a few hundred), never per player or click, and
# "which partner is failing" is the question these answer (the `up` status line,
# `clickpath postbacks list`, an alert on an open circuit).
ENDPOINT_DELIVERIES = Counter(
    "clickpath_endpoint_deliveries_total",
    "Deliveries ended, per endpoint and final outcome (delivered, dead_letter, refused, ...).",
    ["endpoint", "outcome"],
)
ENDPOINT_RETRYING = Gauge(
    "clickpath_endpoint_retrying",
    "Deliveries of an endpoint waiting for another attempt after a failed one (or its circuit).",
    ["endpoint"],
    multiprocess_mode="livesum",
)
ENDPOINT_CIRCUIT = Gauge(
    "clickpath_endpoint_circuit",
    "An endpoint's circuit breaker: 0 closed, 1 half open (one probe out), 2 open.",
    ["endpoint"],
    multiprocess_mode="livemax",
)
CIRCUIT_STATES = ("closed", "half_open", "open")  # by the value of clickpath_endpoint_circuit
FAILED_OUTCOMES = frozenset({"dead_letter", "refused", "disabled"})  # ended, never delivered
INGRESS_ACCEPTED = Counter(
    "clickpath_ingress_accepted_total",
    "Events a door accepted (acknowledged by the broker), by door and event type.",
    ["door", "event_type"],
)
INGRESS_REJECTED = Counter(
    "clickpath_ingress_rejected_total",
    "Events or requests a door refused, by door and reason.",
    ["door", "reason"],
)
INGRESS_LATENCY = Histogram(
    "clickpath_ingress_request_seconds",
    "Time a door took to answer a request, acknowledgements included.",
    ["door"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RATE_LIMITED = Counter(
    "clickpath_rate_limited_total",
    "Requests a door refused with 429, by door and by what was over its limit (ip, key).",
    ["door", "scope"],
)
CLICKS_FLAGGED = Counter(
    "clickpath_clicks_flagged_total",
    "Clicks recorded that look like a bot's, by reason (bot_user_agent, no_user_agent, click_rate).",
    ["reason"],
)
ROLE_RESTARTS = Counter(
    "clickpath_role_restarts_total", "Roles restarted by the supervisor after dying.", ["role"]
)


@dataclass(frozen=True)
class EndpointHealth:
    """What the delivery engine published of one endpoint (`read_endpoint_health`)."""

    delivered: int = 0
    failed: int = 0  # ended without being delivered: dead-lettered, refused, disabled
    retrying: int = 0  # waiting for another attempt after a failed one
    circuit: str = "closed"  # closed, half_open, open

    @property
    def failing(self) -> bool:
        return bool(self.failed or self.retrying) or self.circuit != "closed"


def read_endpoint_health(path: str | None = None) -> dict[str, EndpointHealth]:
    """Every endpoint's health from the multiprocess metrics at `path` (by default
    PROMETHEUS_MULTIPROC_DIR): what `up`'s status line and `postbacks list` show."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    counts: dict[str, dict[str, int]] = {}
    circuits: dict[str, str] = {}
    for family in registry.collect():
        for sample in family.samples:
            endpoint = sample.labels.get("endpoint")
            if endpoint is None:
                continue
            row = counts.setdefault(endpoint, {"delivered": 0, "failed": 0, "retrying": 0})
            if sample.name == "clickpath_endpoint_deliveries_total":
                outcome = sample.labels.get("outcome", "")
                if outcome == "delivered" or outcome in FAILED_OUTCOMES:
                    row["delivered" if outcome == "delivered" else "failed"] += int(sample.value)
            elif sample.name == "clickpath_endpoint_retrying":
                row["retrying"] = int(sample.value)
            elif sample.name == "clickpath_endpoint_circuit":
                circuits[endpoint] = CIRCUIT_STATES[min(max(int(sample.value), 0), 2)]
    return {e: EndpointHealth(**row, circuit=circuits.get(e, "closed")) for e, row in counts.items()}


def observe_event_latency(stage: str, received_at: datetime) -> None:
    """Observe clickpath's delay for one event at the end of `stage`: from `received_at` (when a
    door took it; the caller picks a stand-in for a record without one), never from its event
    time, which for an import or a backdated event is days old and would fire every alert."""
    EVENT_LATENCY.labels(stage).observe(max((utcnow() - received_at).total_seconds(), 0.0))


def observe_event_time_lag(stage: str, occurred_at: datetime, received_at: datetime) -> None:
    """Observe how late an event reached clickpath (0 for an event stamped in the future)."""
    EVENT_TIME_LAG.labels(stage).observe(max((received_at - occurred_at).total_seconds(), 0.0))


def render_metrics() -> tuple[bytes, str]:
    """The metrics of every clickpath process when under `up`, else of this one."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve_metrics(port: int | None, host: str = "127.0.0.1") -> None:
    """Expose this process's metrics when run on its own; under `up` the service does it.

    On loopback unless told otherwise (CLICKPATH_METRICS_HOST): a scraper on another host is
    let in deliberately, on a private interface (docs/security.md)."""
    if port and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        start_http_server(port, addr=host)
