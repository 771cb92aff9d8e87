"""The delivery engine against real local receivers and the real broker.

The engine runs in this process (its own event loop in a thread) reading the real topics;
postbacks and canonical events are produced to them as the stream workers would.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from clickpath.contracts.models import (
    CanonicalEvent,
    DeadLetter,
    DeliveryAttempt,
    DeliveryJob,
    Postback,
    utcnow,
)
from clickpath.contracts.topics import Topic
from clickpath.devtools.receivers import ScriptedReceiver
from clickpath.domain import signing
from clickpath.domain.endpoints import Endpoint
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.infra.producer import EventProducer
from clickpath.sinks.delivery import DeliveryEngine
from clickpath.sinks.delivery.replay import replay_dead_letters
from tests.integration.harness import holds_for, read_topic, wait_until

TEMPLATE = "/pb?cid={click_id}&e={event}&amt={amount}&cur={currency}&s1={sub1}&tok={player_token}"


def postback(n: int, event: str = "ftd", affiliate: str = "aff-1") -> Postback:
    return Postback(
        postback_id=f"pb-{n}", affiliate_id=affiliate, campaign_id="camp-1", brand_id="brand-a",
        event=event, click_id=f"c{n}", sub1="a b&c", amount=Decimal("25.5") if event == "ftd" else None,
        currency="EUR" if event == "ftd" else None, player_token=f"tok{n}", occurred_at=utcnow(),
    )


class Running:
    """A delivery engine on its own loop in a thread, stopped (and its loop closed) at the end."""

    def __init__(self, settings, endpoints: list[Endpoint]) -> None:
        self.store = EndpointStore(settings.endpoints_file, endpoints)
        self.engine = DeliveryEngine(settings, store=self.store)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.engine.run()), name="delivery-engine")
        self.thread.start()
        assert self.engine.assigned.wait(30), "the delivery engine got no partitions"

    def stop(self) -> None:
        self.engine.stopping.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


@pytest.fixture
def run_engine(settings):
    running: list[Running] = []

    def start(endpoints: list[Endpoint], **overrides) -> Running:
        r = Running(settings.with_overrides(**overrides) if overrides else settings, endpoints)
        running.append(r)
        return r

    yield start
    for r in running:
        r.stop()


@pytest.fixture
def receivers():
    started: list[ScriptedReceiver] = []

    def start(script=None, host: str = "127.0.0.1") -> ScriptedReceiver:
        r = ScriptedReceiver(host, script)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def send(settings, *records) -> None:
    with EventProducer(settings) as producer:
        for record in records:
            key = record.affiliate_id if isinstance(record, Postback) else record.person_id
            topic = Topic.POSTBACKS if isinstance(record, Postback) else Topic.CANONICAL
            producer.send_record(topic, key, record)


def test_get_and_post_postbacks_are_exact_and_signed(settings, receivers, run_engine) -> None:
    rx = receivers()
    old, new = signing.new_secret(), signing.new_secret()
    endpoints = [
        Endpoint(endpoint_id="get", affiliate_id="aff-1", url=rx.url + TEMPLATE, events=["ftd"]),
        Endpoint(endpoint_id="json", affiliate_id="aff-1", url=rx.url + "/json", method="POST",
                 body="json", events=["ftd", "registration"], secret=new, previous_secrets=[old]),
        Endpoint(endpoint_id="form", affiliate_id="aff-1", url=rx.url + "/form?cid={click_id}",
                 method="POST", body="form", events=["registration"]),
    ]
    run_engine(endpoints)
    send(settings, postback(1, "ftd"), postback(2, "registration"))
    got = wait_until(lambda: len(rx.requests()) >= 4 and rx.requests(), 30, "4 deliveries")
    by = {(r.method, urlsplit(r.path).path): r for r in got}
    get = by[("GET", "/pb")]
    assert get.path == "/pb?cid=c1&e=ftd&amt=25.50&cur=EUR&s1=a%20b%26c&tok=tok1"
    posted = {json.loads(r.body)["event"]: r for r in got if r.path == "/json"}
    ftd = json.loads(posted["ftd"].body)
    assert (ftd["amount"], ftd["currency"], ftd["sub1"], ftd["click_id"]) == ("25.50", "EUR", "a b&c", "c1")
    assert "amount" not in json.loads(posted["registration"].body)  # no value, no key
    for signed in posted.values():  # a postback's whole request is signed (issue 21, item 25)
        for secret in (new, old):  # the new secret verifies, and, in rotation, the old
            signing.verify_request(secret, signed.headers, "POST", signed.path, signed.body, now=time.time())
    form = by[("POST", "/form")]
    assert form.path == "/form?cid=c2" and parse_qs(form.body.decode())["event"] == ["registration"]
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    assert len({r.headers["idempotency-key"] for r in got}) == 4
    assert len(got) == 4  # nothing delivered twice


def test_retry_after_is_honoured_and_4xx_is_final(settings, receivers, run_engine, codec) -> None:
    def script(req, n):
        if req.path.startswith("/busy"):
            return (503, {"retry-after": "2"}) if n == 1 else (200, {})
        return (400, {})

    rx = receivers(script)
    run_engine([
        Endpoint(endpoint_id="busy", affiliate_id="aff-1", url=rx.url + "/busy", events=["ftd"]),
    ])
    send(settings, postback(3))
    first, second = wait_until(lambda: len(rx.requests()) >= 2 and rx.requests(), 30, "the retry")
    assert second.at - first.at >= 1.9  # Retry-After: 2 (the schedule alone would retry sooner)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


def test_a_refusal_is_dead_lettered_and_410_disables_the_endpoint(
    settings, receivers, run_engine, codec
) -> None:
    def script(req, _n):
        return {"/gone": (410, {}), "/bad": (400, {})}.get(req.path, (200, {}))

    rx = receivers(script)
    running = run_engine([
        Endpoint(endpoint_id="gone", affiliate_id="aff-1", url=rx.url + "/gone", events=["ftd"]),
        Endpoint(endpoint_id="watch", affiliate_id="aff-1", url=rx.url + "/watch", events=["ftd"]),
        Endpoint(endpoint_id="bad", affiliate_id="aff-2", url=rx.url + "/bad", events=["ftd"]),
    ])
    send(settings, postback(4), postback(5, affiliate="aff-2"))
    letters = [r for _, r in read_topic(settings, codec, Topic.DEAD_LETTER, expect=2)]
    assert all(isinstance(d, DeadLetter) and d.stage == "delivery" for d in letters)
    reasons = sorted(d.reason for d in letters)
    assert reasons[0].startswith("bad: HTTP 400") and reasons[1].startswith("gone: HTTP 410")
    jobs = [codec.decode(d.original_value) for d in letters]
    assert all(isinstance(j, DeliveryJob) and j.attempt == 1 for j in jobs)  # not retried
    gone = EndpointStore(settings.endpoints_file).current()["gone"]
    assert not gone.enabled and "410" in (gone.disabled_reason or "")
    send(settings, postback(6))  # the disabled endpoint gets nothing more; its twin does
    wait_until(lambda: sum(r.path == "/watch" for r in rx.requests()) == 2, 30, "the next postback")
    assert sum(r.path == "/gone" for r in rx.requests()) == 1
    assert running.store.current()["gone"].enabled is False


def test_circuit_opens_then_lets_one_probe_through(settings, receivers, run_engine) -> None:
    rx = receivers(lambda _r, n: (500, {}) if n <= 3 else (200, {}))
    run_engine(
        [Endpoint(endpoint_id="flaky", affiliate_id="aff-1", url=rx.url + "/f", events=["ftd"])],
        circuit_failures=3, circuit_cooldown_s=2.0, postback_max_attempts=50,
        delivery_endpoint_concurrency=1,  # one request at a time: the order is the circuit's
        postback_backoff_s=0.01, postback_backoff_max_s=0.02,
    )
    send(settings, *[postback(10 + i) for i in range(5)])
    wait_until(lambda: len(rx.requests()) >= 3, 20, "three failures")
    opened = time.monotonic()
    got = wait_until(lambda: len(rx.requests()) >= 8 and rx.requests(), 30, "every delivery")
    probe = got[3]
    assert probe.at - got[2].at >= 1.9, "the circuit let requests through while open"
    assert time.monotonic() - opened < 25
    assert len({r.headers["idempotency-key"] for r in got[3:]}) == 5  # all five delivered


def test_a_hanging_endpoint_does_not_delay_a_healthy_one(settings, receivers, run_engine) -> None:
    slow = receivers(lambda _r, _n: 10.0)   # hangs for 10 s
    fast = receivers()
    run_engine([
        Endpoint(endpoint_id="hangs", affiliate_id="aff-1", url=slow.url + "/h", events=["ftd"]),
        Endpoint(endpoint_id="healthy", affiliate_id="aff-2", url=fast.url + "/ok", events=["ftd"]),
    ], postback_timeout_s=8.0)
    started = time.monotonic()
    send(settings, *[postback(20 + i) for i in range(20)],
         *[postback(40 + i, affiliate="aff-2") for i in range(20)])
    wait_until(lambda: len(fast.requests()) >= 20, 20, "the healthy endpoint's deliveries")
    assert time.monotonic() - started < 5, "the healthy endpoint waited for the hanging one"


def test_ssrf_guard_refuses_what_is_not_allowed(settings, receivers, run_engine, codec) -> None:
    internal = receivers(host="127.0.0.2")        # loopback, but not in egress_allow
    allowed = receivers(lambda _r, _n: (302, {"location": internal.url + "/x"}))
    run_engine([
        Endpoint(endpoint_id="internal", affiliate_id="aff-1", url=internal.url + "/i", events=["ftd"]),
        Endpoint(endpoint_id="metadata", affiliate_id="aff-1",
                 url="http://169.254.169.254/latest/meta-data", events=["ftd"]),
        Endpoint(endpoint_id="redirects", affiliate_id="aff-1", url=allowed.url + "/r", events=["ftd"]),
    ])
    send(settings, postback(60))
    letters = [r for _, r in read_topic(settings, codec, Topic.DEAD_LETTER, expect=3)]
    assert sorted(d.reason.split(":")[0] for d in letters) == ["internal", "metadata", "redirects"]
    assert all("egress guard" in d.reason for d in letters)
    assert internal.requests() == []                # never reached, not even by the redirect
    assert len(allowed.requests()) == 1


def test_dead_letters_replay_without_duplicates_at_the_receiver(
    settings, receivers, run_engine, codec
) -> None:
    accepting = threading.Event()
    rx = receivers(lambda _r, _n: (200, {}) if accepting.is_set() else (400, {}))
    run_engine([Endpoint(endpoint_id="later", affiliate_id="aff-1", url=rx.url + "/l", events=["ftd"])])
    send(settings, *[postback(70 + i) for i in range(3)])
    read_topic(settings, codec, Topic.DEAD_LETTER, expect=3)
    accepting.set()
    assert replay_dead_letters(settings, endpoint_id="later") == 3
    assert replay_dead_letters(settings, endpoint_id="later") == 3   # replayed twice
    wait_until(lambda: len(rx.requests()) >= 9, 30, "the replays")
    delivered = [r.headers["idempotency-key"] for r in rx.requests()[3:]]
    assert len(delivered) == 6 and len(set(delivered)) == 3   # same ids: the partner drops repeats
    first_ids = {r.headers["idempotency-key"] for r in rx.requests()[:3]}
    assert set(delivered) == first_ids


def test_webhooks_are_signed_json_and_every_attempt_is_logged(
    settings, receivers, run_engine, codec
) -> None:
    rx = receivers()
    secret = signing.new_secret()
    run_engine([
        Endpoint(endpoint_id="crm", kind="webhook", brand_id="brand-a", url=rx.url + "/hooks",
                 method="POST", events=["registration", "ftd"], secret=secret),
        Endpoint(endpoint_id="manager", kind="webhook", affiliate_id="aff-1", url=rx.url + "/am",
                 method="POST", events=["ftd"], secret=secret),
    ])
    ftd = CanonicalEvent(
        event_id="dep-1", event_type="deposit", occurred_at=utcnow(), processed_at=utcnow(),
        brand_id="brand-a", source="crm", person_id="brand-a:p1", player_id="p1",
        affiliate_id="aff-1", campaign_id="camp-1", transaction_id="tx1", amount=Decimal("10"),
        currency="EUR", is_ftd=True, payload="{}",
    )
    send(settings, ftd)
    got = wait_until(lambda: len(rx.requests()) >= 2 and rx.requests(), 30, "two webhooks")
    by_path = {r.path: r for r in got}
    for r in got:
        signing.verify(secret, r.headers, r.body, now=time.time())
    crm = json.loads(by_path["/hooks"].body)
    assert crm["type"] == "player.ftd" and crm["data"]["player_id"] == "p1"
    manager = json.loads(by_path["/am"].body)
    assert "player_id" not in manager["data"] and manager["data"]["player_token"]
    attempts = [r for _, r in read_topic(settings, codec, Topic.DELIVERY_ATTEMPTS, expect=2)]
    assert all(isinstance(a, DeliveryAttempt) and a.outcome == "delivered" and a.status == 200
               for a in attempts)
    assert {a.endpoint_id for a in attempts} == {"crm", "manager"}


def test_admin_api_changes_endpoints_on_the_running_delivery_process(
    settings, receivers, run_engine
) -> None:
    import httpx

    from clickpath.connectors.context import IngressContext
    from clickpath.connectors.http_service import create_service
    from tests.integration.harness import ServedApp

    rx = receivers()
    running = run_engine([])
    ctx = IngressContext.from_settings(settings)
    with ServedApp(create_service(settings, ctx)) as served:
        _, admin = ctx.keys.create("admin")
        _, operator = ctx.keys.create("operator", brand_id="brand-a")
        url = f"{served.url}/v1/admin/endpoints/added"
        body = {"affiliate_id": "aff-1", "url": rx.url + "/added?cid={click_id}", "events": ["ftd"],
                "sign": True}
        assert httpx.put(url, json=body).status_code == 401
        assert httpx.put(url, json=body, headers={"Authorization": f"Bearer {operator}"}).status_code == 403
        bad = httpx.put(url, json={**body, "url": rx.url + "/?x={nope}"},
                        headers={"Authorization": f"Bearer {admin}"})
        assert bad.status_code == 422 and "nope" in bad.json()["detail"]
        made = httpx.put(url, json=body, headers={"Authorization": f"Bearer {admin}"}).json()
        assert made["signed"] and made["secret"].startswith("whsec_")
        send(settings, postback(80))
        [got] = wait_until(lambda: rx.requests(), 30, "the new endpoint's postback")
        signing.verify_request(made["secret"], got.headers, got.method, got.path, got.body, now=time.time())
        off = httpx.post(f"{url}/disable", json={"reason": "partner asked"},
                         headers={"Authorization": f"Bearer {admin}"}).json()
        assert off["enabled"] is False and off["disabled_reason"] == "partner asked"
        assert running.store.current()["added"].enabled is False


def test_a_revocation_stops_a_pending_retry_and_later_postbacks(
    settings, receivers, run_engine, codec
) -> None:
    from clickpath.contracts.models import PostbackRevocation

    rx = receivers(lambda _r, n: (503, {"retry-after": "3"}) if n == 1 else (200, {}))
    run_engine([Endpoint(endpoint_id="ep", affiliate_id="aff-1", url=rx.url + "/r?t={player_token}",
                             events=["registration", "ftd"])])
    send(settings, postback(90))              # answered 503: waits 3 s for its retry
    wait_until(lambda: len(rx.requests()) == 1, 30, "the first attempt")
    revocation = PostbackRevocation(affiliate_id="aff-1", player_token="tok90",
                                    reason="affiliate_data_sharing consent withdrawn", revoked_at=utcnow())
    with EventProducer(settings) as producer:
        producer.send_record(Topic.POSTBACKS, "aff-1", revocation)
    send(settings, postback(90, "registration"), postback(91))   # same player again; another player

    def outcomes():
        got = [a for _, a in read_topic(settings, codec, Topic.DELIVERY_ATTEMPTS, 4, 8, require=False)]
        suppressed = [a for a in got if a.outcome == "suppressed"]
        delivered = [a for a in got if a.outcome == "delivered"]
        return len(suppressed) >= 2 and delivered and (suppressed, delivered)

    suppressed, delivered = wait_until(outcomes, 45, "two suppressions and one delivery")
    holds_for(lambda: [r.path for r in rx.requests()] == ["/r?t=tok90", "/r?t=tok91"],
              "no retry and no new postback for the revoked player", settle_s=4)  # past the 3 s retry
    assert all("consent withdrawn" in (a.error or "") for a in suppressed)
    assert len(delivered) == 1
