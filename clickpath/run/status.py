"""One human-readable status line every few seconds for the `clickpath up` console."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, multiprocess

from clickpath.infra.metrics import EndpointHealth, read_endpoint_health

SHOWN_FAILING = 3  # endpoints named on the status line; `postbacks list` shows them all


def _totals() -> dict[tuple[str, ...], float]:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    totals: dict[tuple[str, ...], float] = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name.endswith("_total"):
                key = (s.name, *sorted(s.labels.values()))
                totals[key] = totals.get(key, 0.0) + s.value
    return totals


def status_line() -> str:
    t = _totals()

    def get(name: str, *labels: str) -> int:
        return int(t.get((name, *sorted(labels)), 0))

    ev = "clickpath_events_total"
    return (
        f"clicks {get(ev, 'clicks', 'accepted')} · player events {get(ev, 'players', 'accepted')}"
        f" · duplicates dropped {get(ev, 'clicks', 'duplicate') + get(ev, 'players', 'duplicate')}"
        f" · postbacks delivered {get('clickpath_deliveries_total', 'postback', 'delivered')}"
        f" · ClickHouse rows {sum(int(v) for k, v in t.items() if k[0] == 'clickpath_clickhouse_rows_total')}"
        f" · dead letters {sum(int(v) for k, v in t.items() if k[0] == 'clickpath_dead_letters_total')}"
        f"{failing_segment(read_endpoint_health())}"
    )


def health_text(h: EndpointHealth) -> str:
    """`3 failed, 2 retrying, circuit open`: what is wrong with one endpoint."""
    parts = [f"{h.failed} failed"] if h.failed else []
    parts += [f"{h.retrying} retrying"] if h.retrying else []
    parts += [f"circuit {h.circuit.replace('_', ' ')}"] if h.circuit != "closed" else []
    return ", ".join(parts) or "ok"


def failing_segment(health: dict[str, EndpointHealth]) -> str:
    """The endpoints in trouble, worst first (an open circuit, then the most retrying and
    failed), at most SHOWN_FAILING of them; nothing when every endpoint is well."""
    failing = sorted(
        (e for e, h in health.items() if h.failing),
        key=lambda e: (health[e].circuit == "closed", -health[e].retrying, -health[e].failed, e),
    )
    if not failing:
        return ""
    shown = "; ".join(f"{e} ({health_text(health[e])})" for e in failing[:SHOWN_FAILING])
    more = len(failing) - SHOWN_FAILING
    return f" · failing: {shown}" + (f"; {more} more (clickpath postbacks list)" if more > 0 else "")


class StatusPrinter:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.next_at = time.monotonic() + interval_s

    def maybe_print(self) -> None:
        if self.interval_s > 0 and time.monotonic() >= self.next_at:
            self.next_at += self.interval_s
            try:
                print(status_line(), flush=True)
            except (OSError, ValueError) as e:  # metrics files mid-write or removed
                print(f"(status unavailable: {e})", flush=True)
