"""The SSRF guard against real HTTP receivers on loopback addresses.

A second receiver listens on 127.0.0.2 (loopback too, on Linux), standing in for an internal
service: the tests that refuse a redirect to it also prove that it never got a request.
Every test runs with both ways the delivery engine sends: aiohttp (`client.PinnedClient`, its
default) and an httpx client on `PinnedTransport` (`egress.guarded_request`).
Receivers bind port 0 (the kernel picks a free one), close their sockets and join their
threads at the end of every test; an autouse fixture checks no thread is left behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import httpx
import pytest

from clickpath.sinks.delivery.client import PinnedClient
from clickpath.sinks.delivery.egress import EgressPolicy, EgressRefused, PinnedTransport, guarded_request


class Receiver:
    """An HTTP server in a thread: answers `routes[path] = (status, location)`, else 200."""

    def __init__(self, host: str, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, tuple[int, str]] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Host header)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = False  # so server_close() joins the request threads
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.host, self.port = host, self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}"
        # A short poll interval only makes shutdown() prompt; serving does not depend on it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"receiver-{host}"
        )
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so no handler thread waits on a keep-alive.
            def do_GET(self) -> None:
                with receiver._lock:
                    receiver.requests.append((self.command, self.path, self.headers.get("host", "")))
                status, location = receiver.routes.get(self.path, (200, ""))
                self.send_response(status)
                if location:
                    self.send_header("location", location)
                self.send_header("content-length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        return Handler

    def got(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self.requests)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture(autouse=True)
def no_threads_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) - before == set()


@pytest.fixture
def first() -> Iterator[Receiver]:
    r = Receiver("127.0.0.1")
    yield r
    r.stop()


@pytest.fixture
def internal() -> Iterator[Receiver]:
    r = Receiver("127.0.0.2")
    yield r
    r.stop()


Fetch = Callable[..., int]


@pytest.fixture(params=["aiohttp", "httpx"])
def fetch(request: pytest.FixtureRequest) -> Fetch:
    """`fetch(policy, url, method="GET", verify=True)`: the final status of a guarded request."""

    async def with_httpx(policy: EgressPolicy, url: str, method: str, verify: ssl.SSLContext | bool) -> int:
        async with httpx.AsyncClient(transport=PinnedTransport(policy, verify=verify), timeout=5) as client:
            return (await guarded_request(client, policy, method, url)).status_code

    async def with_aiohttp(policy: EgressPolicy, url: str, method: str, verify: ssl.SSLContext | bool) -> int:
        client = PinnedClient(policy, time.time, timeout_s=5, connections=4, verify=verify)
        try:
            status, _retry_after = await client.fetch(method, url, {}, b"")
            return status
        finally:
            await client.aclose()

    send = with_aiohttp if request.param == "aiohttp" else with_httpx

    def go(policy: EgressPolicy, url: str, method: str = "GET", verify: ssl.SSLContext | bool = True) -> int:
        return asyncio.run(send(policy, url, method, verify))

    return go


def refused(fetch: Fetch, policy: EgressPolicy, url: str, method: str = "GET") -> EgressRefused:
    with pytest.raises(EgressRefused) as info:
        fetch(policy, url, method)
    return info.value


def test_loopback_refused_by_default_and_allowed_by_cidr(fetch: Fetch, first: Receiver) -> None:
    assert "loopback" in refused(fetch, EgressPolicy(), first.url + "/pb").reason
    assert first.got() == []
    assert fetch(EgressPolicy(allow=["127.0.0.0/8"]), first.url + "/pb") == 200
    assert first.got() == [("GET", "/pb", f"127.0.0.1:{first.port}")]


def test_redirect_to_another_internal_host_is_refused_and_never_made(
    fetch: Fetch, first: Receiver, internal: Receiver
) -> None:
    first.routes["/pb"] = (302, internal.url + "/admin")
    only_first = EgressPolicy(allow=["127.0.0.1/32"])
    e = refused(fetch, only_first, first.url + "/pb", "POST")
    assert "loopback address 127.0.0.2" in e.reason and "redirect from" in e.reason
    assert first.got() == [("POST", "/pb", f"127.0.0.1:{first.port}")]
    assert internal.got() == []
    # The control: allowed, the same redirect does reach the second receiver.
    assert fetch(EgressPolicy(allow=["127.0.0.0/8"]), first.url + "/pb", "POST") == 200
    assert internal.got() == [("GET", "/admin", f"127.0.0.2:{internal.port}")]  # 302: POST became GET


def test_redirect_to_the_metadata_service_is_refused(fetch: Fetch, first: Receiver) -> None:
    first.routes["/pb"] = (307, "http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    e = refused(fetch, EgressPolicy(allow=["127.0.0.1/32"]), first.url + "/pb")
    assert "cloud metadata" in e.reason
    assert len(first.got()) == 1


def test_relative_redirects_on_an_allowed_host_are_followed(fetch: Fetch, first: Receiver) -> None:
    first.routes["/old"] = (301, "/new?x=1")
    assert fetch(EgressPolicy(allow=["127.0.0.1/32"]), first.url + "/old") == 200
    assert [path for _, path, _ in first.got()] == ["/old", "/new?x=1"]


def test_names_resolving_to_loopback_are_refused_by_the_system_resolver(
    fetch: Fetch, first: Receiver
) -> None:
    policy = EgressPolicy()
    assert "localhost -> loopback" in refused(fetch, policy, f"http://localhost:{first.port}/").reason
    # 2130706433 is 127.0.0.1 written as one number; getaddrinfo accepts it.
    assert "loopback" in refused(fetch, policy, f"http://2130706433:{first.port}/").reason
    assert first.got() == []


def fixed_resolver(*answers: Sequence[str]):
    """Answers the n-th lookup with answers[n] (the last one from then on), whatever the name."""
    calls = 0

    async def resolve(host: str, port: int) -> Sequence[str]:
        nonlocal calls
        calls += 1
        return answers[min(calls, len(answers)) - 1]

    return resolve


def test_the_connection_goes_to_the_checked_address_with_the_real_host(fetch: Fetch, first: Receiver) -> None:
    policy = EgressPolicy(allow=["127.0.0.1/32"], resolver=fixed_resolver(["127.0.0.1"]))
    assert fetch(policy, f"http://partner.test:{first.port}/pb") == 200
    assert first.got() == [("GET", "/pb", f"partner.test:{first.port}")]


def test_dns_rebinding_between_check_and_connect_is_refused(
    fetch: Fetch, first: Receiver, internal: Receiver
) -> None:
    """The name passes the check as 127.0.0.1, then answers 127.0.0.2 when the pool connects."""
    policy = EgressPolicy(allow=["127.0.0.1/32"], resolver=fixed_resolver(["127.0.0.1"], ["127.0.0.2"]))
    e = refused(fetch, policy, f"http://rebind.test:{internal.port}/admin")
    assert "rebind.test -> loopback address 127.0.0.2" in e.reason
    assert internal.got() == [] and first.got() == []


def self_signed(tmp_path: Path, name: str) -> Path:
    """A certificate for `name` that is its own trust anchor, as PEM (key and certificate)."""
    pytest.importorskip("cryptography")  # installed through Authlib, not a declared dependency
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = tmp_path / f"{name}.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return pem


def test_tls_keeps_the_real_name_for_sni_and_the_certificate(fetch: Fetch, tmp_path: Path) -> None:
    """Pinned to 127.0.0.1, the TLS handshake still names and verifies partner.test."""
    pem = self_signed(tmp_path, "partner.test")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(pem)
    seen_sni: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    client_tls = ssl.create_default_context(cafile=str(pem))
    policy = EgressPolicy(allow=["127.0.0.1/32"], resolver=fixed_resolver(["127.0.0.1"]))

    receiver = Receiver("127.0.0.1", tls=server_tls)
    try:
        assert fetch(policy, f"https://partner.test:{receiver.port}/pb", verify=client_tls) == 200
        assert receiver.got() == [("GET", "/pb", f"partner.test:{receiver.port}")]
        with pytest.raises((httpx.ConnectError, aiohttp.ClientError), match="CERTIFICATE_VERIFY_FAILED"):
            fetch(policy, f"https://impostor.test:{receiver.port}/pb", verify=client_tls)
        assert seen_sni == ["partner.test", "impostor.test"]
        assert len(receiver.got()) == 1
    finally:
        receiver.stop()
