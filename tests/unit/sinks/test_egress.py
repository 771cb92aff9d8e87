"""SSRF guard: address classes, URL checks, checked redirects and connection pinning, all in memory.

Names are resolved by injected resolvers and requests answered by httpx.MockTransport, so
nothing here touches the network; tests/integration/test_egress.py does it for real.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Sequence

import httpcore
import httpx
import pytest

from clickpath.sinks.delivery.egress import (
    EgressPolicy,
    EgressRefused,
    PinnedTransport,
    _PinnedBackend,
    guarded_request,
    refusal,
)

PUBLIC = "93.184.216.34"


def resolver(table: dict[str, Sequence[str]]):
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def check(policy: EgressPolicy, url: str) -> list:
    return asyncio.run(policy.check(url))


def refused(policy: EgressPolicy, url: str) -> EgressRefused:
    with pytest.raises(EgressRefused) as info:
        check(policy, url)
    return info.value


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "private"),  # TEST-NET-1: Python files documentation nets as private
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fd00:ec2::254", "cloud metadata"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("::ffff:100.64.0.1", "CGNAT"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    why = refusal(ipaddress.ip_address(address))
    assert why is not None and reason in why


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_loopback_refused_by_default_and_allowed_by_cidr() -> None:
    assert "loopback" in refused(EgressPolicy(), "http://127.0.0.1:8080/pb").reason
    allowed = EgressPolicy(allow=["127.0.0.0/8"])
    assert check(allowed, "http://127.0.0.1:8080/pb") == [ipaddress.ip_address("127.0.0.1")]
    assert check(allowed, "http://[::ffff:127.0.0.1]:8080/pb")  # the same host, spelt in IPv6
    assert "loopback" in refused(allowed, "http://[::1]:8080/pb").reason  # the allow-list is per family


def test_private_and_metadata_literals_refused() -> None:
    assert "private" in refused(EgressPolicy(), "http://10.0.0.1/").reason
    assert "cloud metadata" in refused(EgressPolicy(), "http://169.254.169.254/latest/meta-data/").reason
    assert "cloud metadata" in refused(EgressPolicy(), "http://[fd00:ec2::254]/").reason
    assert "private" in refused(EgressPolicy(allow=["10.1.0.0/16"]), "http://10.2.0.1/").reason


def test_names_are_checked_by_every_address_they_resolve_to() -> None:
    policy = EgressPolicy(
        resolver=resolver(
            {
                "localhost": ["127.0.0.1", "::1"],
                "intranet.example": ["10.1.2.3"],
                "split.example": [PUBLIC, "192.168.0.7"],
                "partner.example": [PUBLIC, PUBLIC],
            }
        )
    )
    assert refused(policy, "http://localhost:9000/").reason == "localhost -> loopback address 127.0.0.1"
    assert (
        "intranet.example -> private address 10.1.2.3" in refused(policy, "https://intranet.example/").reason
    )
    assert "192.168.0.7" in refused(policy, "http://split.example/").reason  # one bad address is enough
    assert check(policy, "https://partner.example/pb?x=1") == [ipaddress.ip_address(PUBLIC)]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.216.34/x", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://93.184.216.34:70/", "scheme"),
        ("//93.184.216.34/x", "scheme"),
        ("http://user:pw@93.184.216.34/", "credentials"),
        ("http://token@93.184.216.34/", "credentials"),
        ("http:///path-only", "no host"),
        # Issue 21, item 25: an invalid IDNA label raised out of the check (the job re-parked
        # every 60 s forever); it can never be sent, so it is a refusal, final.
        ("http://xn--/pb", "host 'xn--' is not a valid name (IDNA"),
        ("http://xn--a.example/pb", "not a valid name (IDNA"),
    ],
)
def test_only_plain_http_urls(url: str, reason: str) -> None:
    assert reason in refused(EgressPolicy(), url).reason


def test_resolution_failures_are_network_errors_not_refusals() -> None:
    never = asyncio.Event()

    async def hangs(host: str, port: int) -> Sequence[str]:
        await never.wait()
        return []

    with pytest.raises(httpx.ConnectError, match="cannot resolve"):
        check(EgressPolicy(resolver=resolver({})), "http://nowhere.example/")
    with pytest.raises(httpx.ConnectError, match="no address"):
        check(EgressPolicy(resolver=resolver({"empty.example": []})), "http://empty.example/")
    with pytest.raises(httpx.ConnectTimeout):
        check(EgressPolicy(resolver=hangs, resolve_timeout_s=0.01), "http://slow.example/")


def test_allow_list_is_validated_when_built() -> None:
    assert [str(n) for n in EgressPolicy(allow=[" 127.0.0.1 ", "", "10.0.0.0/8"]).allow] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
    ]
    with pytest.raises(ValueError):
        EgressPolicy(allow=["10.0.0.0/33"])


def test_refusal_message_names_the_origin_only() -> None:
    e = refused(EgressPolicy(), "http://10.0.0.1:8080/pb?player=tok-secret&tx=42")
    assert "tok-secret" not in str(e) and "http://10.0.0.1:8080" in str(e)
    assert e.url.endswith("tx=42")  # the caller still has the whole URL


# guarded_request, answered in memory --------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def run_guarded(policy: EgressPolicy, handler: Handler, method: str, url: str, **kw) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await guarded_request(client, policy, method, url, **kw)

    return asyncio.run(go())


PARTNERS = EgressPolicy(
    resolver=resolver(
        {
            "partner.example": [PUBLIC],
            "other.example": ["93.184.216.35"],
            "inside.example": ["10.9.9.9"],
        }
    )
)


def redirecting(routes: dict[str, tuple[int, str]], seen: list[httpx.Request]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        key = f"{request.url.host}{request.url.path}"
        if key in routes:
            status, location = routes[key]
            return httpx.Response(status, headers={"location": location})
        return httpx.Response(200, text="ok")

    return handle


def test_redirects_are_followed_relative_and_absolute() -> None:
    seen: list[httpx.Request] = []
    routes = {"partner.example/a": (302, "/b"), "partner.example/b": (308, "https://other.example/c")}
    response = run_guarded(PARTNERS, redirecting(routes, seen), "GET", "http://partner.example/a")
    assert response.status_code == 200
    assert [str(r.url) for r in seen] == [
        "http://partner.example/a",
        "http://partner.example/b",
        "https://other.example/c",
    ]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://inside.example/x", "inside.example -> private"),
        ("http://127.0.0.1:8080/", "loopback"),
        ("file:///etc/passwd", "scheme"),
        ("http://xn--/x", "invalid location"),
    ],
)
def test_a_redirect_to_a_refused_address_is_never_requested(location: str, reason: str) -> None:
    seen: list[httpx.Request] = []
    handler = redirecting({"partner.example/a": (302, location)}, seen)
    with pytest.raises(EgressRefused) as info:
        run_guarded(PARTNERS, handler, "GET", "http://partner.example/a")
    assert reason in info.value.reason and "redirect from http://partner.example" in info.value.reason
    assert len(seen) == 1


def test_a_refused_url_is_never_requested() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(EgressRefused):
        run_guarded(PARTNERS, redirecting({}, seen), "GET", "http://inside.example/")
    assert seen == []


def test_too_many_redirects_refused() -> None:
    seen: list[httpx.Request] = []
    handler = redirecting({"partner.example/loop": (307, "/loop")}, seen)
    with pytest.raises(EgressRefused, match="more than 3 redirects"):
        run_guarded(PARTNERS, handler, "GET", "http://partner.example/loop", max_redirects=3)
    assert len(seen) == 4  # the first request and three redirects
    seen.clear()
    with pytest.raises(EgressRefused, match="more than 0 redirects"):
        run_guarded(PARTNERS, handler, "GET", "http://partner.example/loop", max_redirects=0)
    assert len(seen) == 1


def test_redirect_without_location_is_the_answer() -> None:
    response = run_guarded(PARTNERS, lambda r: httpx.Response(302), "GET", "http://partner.example/")
    assert response.status_code == 302


def test_redirect_methods_bodies_and_credentials_follow_httpx_rules() -> None:
    seen: list[httpx.Request] = []
    routes = {
        "partner.example/see-other": (303, "/landing"),
        "partner.example/temporary": (307, "/landing"),
        "partner.example/elsewhere": (307, "https://other.example/landing"),
    }
    handler = redirecting(routes, seen)
    kw = {"content": b'{"a":1}', "headers": {"content-type": "application/json", "authorization": "Bearer t"}}

    run_guarded(PARTNERS, handler, "POST", "http://partner.example/see-other", **kw)
    assert [(r.method, r.content) for r in seen] == [("POST", b'{"a":1}'), ("GET", b"")]
    assert "content-type" not in seen[1].headers

    seen.clear()
    run_guarded(PARTNERS, handler, "POST", "http://partner.example/temporary", **kw)
    assert [(r.method, r.content) for r in seen] == [("POST", b'{"a":1}'), ("POST", b'{"a":1}')]
    assert seen[1].headers["authorization"] == "Bearer t"  # same origin keeps it

    seen.clear()
    run_guarded(PARTNERS, handler, "POST", "http://partner.example/elsewhere", **kw)
    assert seen[1].method == "POST" and "authorization" not in seen[1].headers


def test_query_params_are_not_added_again_after_a_redirect() -> None:
    seen: list[httpx.Request] = []
    handler = redirecting({"partner.example/a": (302, "/b?x=2")}, seen)
    run_guarded(PARTNERS, handler, "GET", "http://partner.example/a", params={"x": "1"})
    assert [str(r.url) for r in seen] == ["http://partner.example/a?x=1", "http://partner.example/b?x=2"]


# Pinning: the connection goes to the address that was checked --------------------------------


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the socket layer: records where connections go, refuses `unreachable`."""

    def __init__(self, unreachable: Sequence[str] = ()) -> None:
        self.connected: list[tuple[str, int]] = []
        self.unreachable = set(unreachable)

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connected.append((host, port))
        if host in self.unreachable:
            raise httpcore.ConnectError(f"{host} unreachable")
        return httpcore.AsyncMockStream([])

    async def sleep(self, seconds: float) -> None:
        return None


def test_pinned_backend_connects_to_the_checked_addresses_only() -> None:
    policy = EgressPolicy(
        resolver=resolver({"partner.example": ["93.184.216.35", PUBLIC], "inside.example": ["10.0.0.1"]})
    )
    inner = RecordingBackend(unreachable=["93.184.216.35"])
    backend = _PinnedBackend(policy, inner)

    asyncio.run(backend.connect_tcp("partner.example", 443))
    assert inner.connected == [("93.184.216.35", 443), (PUBLIC, 443)]  # the next address if one fails

    with pytest.raises(EgressRefused, match="private"):
        asyncio.run(backend.connect_tcp("inside.example", 80))
    with pytest.raises(httpcore.ConnectError, match="cannot resolve"):
        asyncio.run(backend.connect_tcp("nowhere.example", 80))
    assert len(inner.connected) == 2


def test_pinned_transport_uses_the_pinned_backend() -> None:
    """httpx has no public hook for a network backend: this fails if its private `_pool` changes."""
    policy = EgressPolicy()
    transport = PinnedTransport(policy)
    assert isinstance(transport._pool, httpcore.AsyncConnectionPool)
    assert isinstance(transport._pool._network_backend, _PinnedBackend)
    assert transport._pool._network_backend.policy is policy


def test_a_fully_qualified_name_is_resolved_as_the_name_it_is() -> None:
    """`localhost.` is `localhost`: refused at send time as configuration refuses it."""
    policy = EgressPolicy(resolver=resolver({"localhost": ["127.0.0.1"]}))
    assert "loopback" in refused(policy, "http://localhost./pb").reason
