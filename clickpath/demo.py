"""Demo traffic and a demo postback receiver, for `clickpath up --demo`.

The traffic plays player journeys: a click from one of several affiliates, maybe a registration
naming it, KYC, deposits of realistic sizes and wagers; a few events are sent twice and a few
arrive late (after later events of the same player), as real operators' feeds do. Organic
players register without a click.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import structlog

from clickpath.models import (
    Click,
    Deposit,
    IngressEvent,
    Kyc,
    Login,
    Registration,
    Wager,
    utcnow,
)
from clickpath.settings import AffiliateConfig

log = structlog.get_logger(__name__)

DEMO_BRANDS = ("luckyspin", "goldbet")
DEMO_AFFILIATES = {
    "aff-alpha": ("Alpha Media", ("spring-slots", "sports-weekend")),
    "aff-beta": ("Beta Partners", ("live-casino",)),
    "aff-gamma": ("Gamma Reviews", ("welcome-bonus", "vip")),
}


def demo_affiliates(receiver_url: str) -> dict[str, AffiliateConfig]:
    template = (
        receiver_url + "/postback/{affiliate_id}?click_id={click_id}&event={event}"
        "&amount={amount}&currency={currency}&player={player_token}&sub1={sub1}"
        "&txn={transaction_id}&id={postback_id}&ts={timestamp}"
    )
    return {
        aff: AffiliateConfig(name=name, postback_url=template)
        for aff, (name, _) in DEMO_AFFILIATES.items()
    }


@dataclass
class Journeys:
    """An endless, seeded stream of events from overlapping player journeys."""

    seed: int = 7
    duplicate_rate: float = 0.03
    late_rate: float = 0.05

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _id(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def journey(self, now: datetime) -> list[IngressEvent]:
        rng = self.rng
        brand = rng.choice(DEMO_BRANDS)
        player = f"p-{self._id()[:12]}"
        t = now
        events: list[IngressEvent] = []
        click_id = None
        if rng.random() < 0.8:
            affiliate = rng.choice(list(DEMO_AFFILIATES))
            click_id = f"c-{self._id()}"
            events.append(
                Click(
                    event_id=self._id(), occurred_at=t, brand_id=brand, source="tracker",
                    click_id=click_id, affiliate_id=affiliate,
                    campaign_id=rng.choice(DEMO_AFFILIATES[affiliate][1]),
                    sub1=f"s{rng.randint(1, 9)}", country=rng.choice(["DE", "GB", "SE", "CA"]),
                )
            )
            if rng.random() < 0.55:
                return events  # most clicks never register
        t += timedelta(milliseconds=rng.randint(50, 400))
        base = dict(brand_id=brand, player_id=player, source="crm")
        events.append(Registration(event_id=self._id(), occurred_at=t, click_id=click_id, **base))
        if rng.random() < 0.7:
            t += timedelta(milliseconds=rng.randint(10, 200))
            events.append(Kyc(event_id=self._id(), occurred_at=t, status="verified", **base))
        if rng.random() < 0.6:
            for _ in range(rng.choice([1, 1, 2, 3, 5])):
                t += timedelta(milliseconds=rng.randint(20, 300))
                amount = Decimal(rng.choice([10, 20, 25, 50, 100, 200, 500])) + Decimal(
                    rng.choice(["0", "0.50", "0.99"])
                )
                events.append(
                    Deposit(
                        event_id=self._id(), occurred_at=t, transaction_id=f"tx-{self._id()}",
                        amount=amount, currency="EUR", method="card", **base,
                    )
                )
                for _ in range(rng.randint(0, 4)):
                    t += timedelta(milliseconds=rng.randint(5, 50))
                    stake = Decimal(rng.choice([1, 2, 5, 10]))
                    events.append(
                        Wager(
                            event_id=self._id(), occurred_at=t, wager_id=f"w-{self._id()}",
                            stake=stake, win=stake * rng.choice([0, 0, 0, 2, 3]),
                            bonus_stake=Decimal(0), currency="EUR",
                            game_category=rng.choice(["casino", "live_casino", "sports"]),
                            **base,
                        )
                    )
            events.append(Login(event_id=self._id(), occurred_at=t, **base))
        return events

    def stream(self) -> Iterator[IngressEvent]:
        """Events in send order: duplicates repeated, late ones pushed after later events."""
        held: list[tuple[int, IngressEvent]] = []
        sent = 0
        while True:
            for event in self.journey(utcnow()):
                if self.rng.random() < self.late_rate:
                    held.append((sent + self.rng.randint(2, 8), event))
                    continue
                yield event
                sent += 1
                if self.rng.random() < self.duplicate_rate:
                    yield event
                due = [e for at, e in held if at <= sent]
                held = [(at, e) for at, e in held if at > sent]
                yield from due


def run_traffic(
    producer_send: Callable[[IngressEvent], None], rate: float, stop: threading.Event
) -> int:
    """Send demo events at about `rate` events/s until `stop` is set."""
    interval = 1.0 / rate
    sent = 0
    next_at = time.monotonic()
    for event in Journeys(seed=int(time.time())).stream():
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
        from clickpath.broker import free_port

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

    def requests(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text().split("\n")
        # The last element is "" after a complete line, or a line still being written.
        return [json.loads(line) for line in lines[:-1] if line]
