"""Demo traffic and a demo postback receiver, for `clickpath up --demo`.

The traffic is the load generator's player journeys (clickpath.devtools.loadgen: clicks from several
affiliates over the days before a registration, on one device whose id the clicks and the
registration carry, so the touchpoint paths are multi-touch and the attribution models differ;
registrations, KYC, deposits, wagers, duplicates and late events) for two demo brands and three
demo affiliates, sent at a steady rate.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import structlog

from clickpath.contracts.models import IngressEvent, utcnow
from clickpath.devtools.loadgen import LoadGenerator, Population
from clickpath.domain.catalogue import AffiliateConfig, CampaignConfig

log = structlog.get_logger(__name__)

DEMO_BRANDS = ("luckyspin", "goldbet")
DEMO_AFFILIATES = {
    "aff-alpha": ("Alpha Media", ("spring-slots", "sports-weekend")),
    "aff-beta": ("Beta Partners", ("live-casino",)),
    "aff-gamma": ("Gamma Reviews", ("welcome-bonus", "vip")),
}


# Each demo campaign's brand, so that its tracking link (`clickpath links`) lands somewhere.
# The demo traffic does not go through the tracker: its journeys pick any brand.
DEMO_CAMPAIGN_BRANDS = {
    "spring-slots": "luckyspin", "sports-weekend": "goldbet", "live-casino": "luckyspin",
    "welcome-bonus": "goldbet", "vip": "luckyspin",
}


def demo_campaign(affiliate_id: str, campaign_id: str) -> CampaignConfig:
    brand = DEMO_CAMPAIGN_BRANDS[campaign_id]
    return CampaignConfig(
        brand_id=brand,
        landing_url=f"https://{brand}.example/welcome?click_id={{click_id}}&s1={{sub1}}",
        tracking_code=f"{affiliate_id.removeprefix('aff-')}-{campaign_id}",
    )


def demo_affiliates(receiver_url: str) -> dict[str, AffiliateConfig]:
    """The demo affiliates with their campaigns, posting back to the demo receiver."""
    template = (
        receiver_url + "/postback/{affiliate_id}?click_id={click_id}&event={event}"
        "&amount={amount}&currency={currency}&player={player_token}&sub1={sub1}"
        "&txn={transaction_id}&id={postback_id}&ts={timestamp}"
    )
    return {
        aff: AffiliateConfig(name=name, postback_url=template,
                             campaigns={c: demo_campaign(aff, c) for c in campaigns})
        for aff, (name, campaigns) in DEMO_AFFILIATES.items()
    }


# The demo's commission plans (docs/commissions.md#the-demos-plans), as `[plans]` would say them.
DEMO_PLANS: dict[str, dict[str, Any]] = {
    "alpha-cpa": {
        "name": "Alpha Media: flat CPA",
        "versions": [{"effective_from": "2020-01-01", "currency": "EUR",
                      "cpa": {"amount": "100.00", "min_first_deposit": "20.00", "within_days": 30}}],
        "assign": [{"affiliate": "aff-alpha"}],
    },
    "beta-revshare": {
        "name": "Beta Partners: tiered RevShare with negative carry-over",
        "versions": [{"effective_from": "2020-01-01", "currency": "EUR", "revshare": {
            "mode": "tiered", "negative_carry_over": True,
            "bands": [{"from": "0", "rate": "0.25"}, {"from": "5000", "rate": "0.30"},
                      {"from": "20000", "rate": "0.35"}]}}],
        "assign": [{"affiliate": "aff-beta"}],
    },
    "gamma-hybrid": {
        "name": "Gamma Reviews: hybrid",
        "versions": [{"effective_from": "2020-01-01", "currency": "EUR",
                      "cpa": {"amount": "40.00", "min_first_deposit": "20.00", "within_days": 30},
                      "revshare": {"mode": "flat", "rate": "0.20"}}],
        "assign": [{"affiliate": "aff-gamma"}],
    },
}
# The demo's players deposit in four currencies: rates to EUR, so every player's value counts.
DEMO_FX_RATES = [
    {"currency": c, "rate": r, "effective_from": "2020-01-01"}
    for c, r in (("GBP", "1.17"), ("CAD", "0.68"), ("SEK", "0.088"))
]

DEMO_POPULATION = Population(
    brands=DEMO_BRANDS,
    affiliates={aff: campaigns for aff, (_, campaigns) in DEMO_AFFILIATES.items()},
)


def run_traffic(
    producer_send: Callable[[IngressEvent], None], rate: float, stop: threading.Event
) -> int:
    """Send demo events at about `rate` events/s until `stop` is set."""
    interval = 1.0 / rate
    sent = 0
    next_at = time.monotonic()
    for event in LoadGenerator(DEMO_POPULATION, seed=int(time.time())).events():
        if stop.is_set():
            break
        producer_send(event)
        sent += 1
        next_at += interval
        pause = next_at - time.monotonic()
        if pause > 0:
            stop.wait(pause)
    return sent


class _ReceiverHandler(BaseHTTPRequestHandler):
    log_path: Path
    protocol_version = "HTTP/1.1"  # keep-alive: senders reuse their connections

    def _record(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        entry = {
            "at": utcnow().isoformat(),
            "method": self.command,
            "path": self.path,
            "body": self.rfile.read(length).decode(errors="replace") if length else "",
        }
        with self.server.lock, self.log_path.open("a") as f:  # type: ignore[attr-defined]
            f.write(json.dumps(entry) + "\n")
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = _record
    do_POST = _record

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return  # the JSON lines file is the log


def make_receiver(host: str, port: int, log_path: Path) -> ThreadingHTTPServer:
    """A postback receiver that appends every request it gets to `log_path` as JSON lines."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = type("Handler", (_ReceiverHandler,), {"log_path": log_path})
    server = ThreadingHTTPServer((host, port), handler)
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    return server


class PostbackReceiver:
    """A receiver on a free loopback port run in a thread; `requests()` reads what it got.

    `stop()` and `start()` take it down and bring it back on the same port, as a partner's
    outage would.
    """

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        from clickpath.infra.broker import free_port

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> PostbackReceiver:
        self.server = make_receiver("127.0.0.1", self.port, self.log_path)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def requests(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text().split("\n")
        # The last element is "" after a complete line, or a line still being written.
        return [json.loads(line) for line in lines[:-1] if line]
