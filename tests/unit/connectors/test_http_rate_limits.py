"""Issue 13, Medium 9 and Low: rate limits outside /v1/events (per IP prefix, per key), 429 with
Retry-After, counted; the click bot screen flags and drops nothing; postback-in's key in a
header; the metrics listener on loopback."""

from __future__ import annotations

from fastapi.testclient import TestClient

from clickpath.devtools.bench import ingress
from clickpath.infra import limits, metrics
from clickpath.settings import Settings
from tests.unit.connectors.http_support import AckingProducer, service

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def counted(name: str, *labels: str) -> float:
    """A counter's value (looked up by name, so that this module loads on any version)."""
    return getattr(metrics, name).labels(*labels)._value.get()


def client_at(app, ip: str) -> TestClient:
    return TestClient(app, client=(ip, 40000), follow_redirects=False)


def test_the_tracker_limits_clicks_per_ip_prefix(tmp_path) -> None:
    app, _ = service(tmp_path, tracker_rate_per_s=0.5, tracker_rate_burst=3)
    before = counted("RATE_LIMITED", "tracker", "ip")
    neighbours = [client_at(app, f"198.51.100.{n}") for n in (1, 2, 3, 4)]  # one /24
    answers = [c.get("/c/spring1", headers={"User-Agent": CHROME}).status_code for c in neighbours]
    assert answers == [302, 302, 302, 429]
    limited = neighbours[0].get("/c/spring1")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "text/html" in limited.headers["content-type"]  # a page a visitor can read
    assert client_at(app, "192.0.2.1").get("/c/spring1").status_code == 302  # another network
    assert counted("RATE_LIMITED", "tracker", "ip") == before + 2


def test_collect_is_limited_per_ip_prefix(tmp_path) -> None:
    app, _ = service(tmp_path, collect_rate_per_s=0.5, collect_rate_burst=2)
    client = client_at(app, "198.51.100.7")
    statuses = [client.post("/v1/collect", content="{}",
                            headers={"Origin": "https://casino.example"}).status_code
                for _ in range(3)]
    assert statuses == [422, 422, 429]


def test_postback_in_is_limited_per_ip_prefix_and_per_key(tmp_path) -> None:
    app, ctx = service(tmp_path, postback_rate_per_s=0.5, postback_rate_burst=2)
    _, key = ctx.keys.create("operator", brand_id="brand-a")
    header = {"Authorization": f"Bearer {key}"}
    params = {"event": "registration", "player_id": "p1"}
    a, b = client_at(app, "198.51.100.7"), client_at(app, "192.0.2.7")
    before = counted("RATE_LIMITED", "postback", "key")
    assert [a.get("/v1/postback", params=params, headers=header).status_code for _ in range(2)] == [200, 200]
    r = b.get("/v1/postback", params=params, headers=header)  # a fresh network, the same key
    assert r.status_code == 429 and "key" in r.json()["detail"] and r.headers["retry-after"]
    assert counted("RATE_LIMITED", "postback", "key") == before + 1
    assert a.get("/v1/postback", params=params, headers=header).status_code == 429  # the network


def test_bot_clicks_are_flagged_counted_and_still_recorded(tmp_path) -> None:
    producer = AckingProducer()
    app, _ = service(tmp_path, producer=producer)
    before = counted("CLICKS_FLAGGED", "bot_user_agent")
    r = client_at(app, "203.0.113.5").get(
        "/c/spring1", headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    assert r.status_code == 302 and len(producer.sent) == 1  # not dropped
    assert counted("CLICKS_FLAGGED", "bot_user_agent") == before + 1


def test_the_click_screen() -> None:
    clock = Clock()
    screen = limits.ClickScreen(rate=1, burst=3, clock=clock)
    assert screen.reason(CHROME, "203.0.113.1") is None
    assert screen.reason("curl/8.5.0", "203.0.113.2") == "bot_user_agent"
    assert screen.reason("python-requests/2.32", "203.0.113.2") == "bot_user_agent"
    assert screen.reason(None, "203.0.113.3") == "no_user_agent"
    assert screen.reason("Mozilla/5.0 (Linux; Android 10; CUBOT X30)", "203.0.113.4") is None
    assert [screen.reason(CHROME, "198.51.100.1") for _ in range(4)] == [None, None, None, "click_rate"]
    clock.now = 1.0
    assert screen.reason(CHROME, "198.51.100.1") is None  # one a second is a person's pace


def test_rate_limit_buckets_are_bounded() -> None:
    limiter = limits.RateLimiter(rate=1, burst=1, capacity=100)
    for n in range(1000):
        limiter.take(f"10.0.{n}.0/24")
    assert len(limiter) == 100


def test_the_ingress_benchmark_measures_the_pipeline_not_the_limiter(tmp_path) -> None:
    cfg = ingress.IngressBenchConfig()
    s = ingress.bench_settings(tmp_path, "127.0.0.1:9092", cfg)
    clicks = cfg.click_rate * cfg.seconds
    assert s.tracker_rate_burst >= clicks and s.tracker_rate_per_s >= 100 * cfg.click_rate
    assert s.bot_click_rate_per_s >= 100 * cfg.click_rate
    assert s.postback_rate_per_s >= 10**6 and s.collect_rate_per_s >= 10**6


def test_postback_in_takes_its_key_from_a_header_and_can_refuse_it_in_the_url(tmp_path) -> None:
    app, ctx = service(tmp_path, postback_query_key=False)
    _, key = ctx.keys.create("operator", brand_id="brand-a")
    params = {"event": "registration", "player_id": "p1"}
    with TestClient(app) as client:
        assert client.get("/v1/postback", params=params,
                          headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert client.get("/v1/postback", params={**params, "key": key}).status_code == 401
    app, ctx = service(tmp_path / "default")
    _, key = ctx.keys.create("operator", brand_id="brand-a")
    with TestClient(app) as client:  # the default still takes ?key= (operators' old templates)
        assert client.get("/v1/postback", params={**params, "key": key}).status_code == 200


def test_a_roles_metrics_listener_binds_loopback_by_default(monkeypatch) -> None:
    bound: list[tuple[int, str]] = []
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr(metrics, "start_http_server", lambda port, addr: bound.append((port, addr)))
    metrics.serve_metrics(9100)
    metrics.serve_metrics(9101, Settings(metrics_host="10.0.0.5").metrics_host)
    assert bound == [(9100, "127.0.0.1"), (9101, "10.0.0.5")]
    assert Settings().metrics_host == "127.0.0.1"


def test_ipv4_clients_of_a_dual_stack_socket_keep_their_own_networks(tmp_path) -> None:
    app, _ = service(tmp_path, tracker_rate_per_s=0.5, tracker_rate_burst=1)
    first = client_at(app, "::ffff:198.51.100.1").get("/c/spring1", headers={"User-Agent": CHROME})
    other = client_at(app, "::ffff:192.0.2.1").get("/c/spring1", headers={"User-Agent": CHROME})
    again = client_at(app, "::ffff:198.51.100.2").get("/c/spring1", headers={"User-Agent": CHROME})
    assert (first.status_code, other.status_code, again.status_code) == (302, 302, 429)
