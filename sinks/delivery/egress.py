"""SSRF guard for outward delivery: postbacks and webhooks go only to public addresses.

A postback URL is written by an affiliate, so the pipeline must never let it reach the
operator's own network: loopback, RFC 1918 / ULA, link-local (the cloud metadata service at
169.254.169.254 and fd00:ec2::254), CGNAT, multicast, reserved and unspecified addresses are
refused, as are IPv4 addresses hidden in IPv6 (mapped, 6to4, NAT64), unless an operator CIDR
from `CLICKPATH_EGRESS_ALLOW` contains the address. Every address a name resolves to is
checked: one bad address refuses the URL, because the connection may use any of them.

Two layers, meant to be used together:

* `guarded_request` checks each URL before it is requested and follows redirects itself,
  checking every `Location` first. On its own it leaves a DNS-rebinding window: the name is
  resolved for the check and again by the HTTP client when it connects, and a hostile DNS
  server may answer differently the second time.
* `PinnedTransport` closes that window. Its connection pool connects through a network
  backend that resolves the host with the policy, checks the answer and connects to exactly
  those checked addresses. URL, `Host` header, TLS SNI and certificate checks keep the real
  hostname and pooled connections stay per hostname, because nothing is rewritten; only the
  socket's destination is chosen by us. httpx offers no public hook for a network backend,
  so the transport replaces its private `_pool` with an identical pool that has one
  (tests/unit/sinks/test_egress.py fails loudly if httpx changes that).

This module must never send a request to an address it has not checked, and must never
follow a redirect httpx would follow on its own (`follow_redirects` is always False).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpcore
import httpx

from clickpath.domain.addresses import (  # the rules; re-exported for this module's users
    CGNAT,
    METADATA,
    NAT64,
    IPAddress,
    IPNetwork,
    allowed,
    parse_allow,
    refusal,
)
from clickpath.domain.postback_template import host_problem

__all__ = [
    "CGNAT", "METADATA", "NAT64", "REDIRECT_STATUSES", "SCHEMES", "EgressPolicy", "EgressRefused",
    "IPAddress", "IPNetwork", "PinnedTransport", "check_hop", "guarded_request", "join_location",
    "redirected", "refusal", "same_origin", "system_resolver",
]

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""`(host, port) -> addresses as text`; the default asks the system (getaddrinfo)."""

SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_BODY_ARGS = ("content", "data", "files", "json")
_BODY_HEADERS = ("content-type", "content-length", "transfer-encoding")
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


class EgressRefused(Exception):
    """A delivery the egress policy will not make. Final: retrying cannot change the answer.

    `str()` names only the origin, never the path or query, so postback macros (player tokens,
    transaction ids) do not end up in logs or dead letters through this error.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, reason)
        self.url, self.reason = url, reason

    def __str__(self) -> str:
        return f"egress to {_origin(self.url)} refused: {self.reason}"


def _origin(url: str) -> str:
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid url>"
    if not u.raw_host:
        return "<no host>"
    port = f":{u.port}" if u.port else ""
    host = u.raw_host.decode("ascii")  # not `u.host`: it raises on an invalid IDNA label
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{u.scheme}://{host}{port}"


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the event loop's getaddrinfo (run in its executor, so it does not block)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class EgressPolicy:
    """Which addresses outward requests may reach: public ones, plus the operator's `allow` CIDRs."""

    def __init__(
        self,
        allow: Sequence[str] = (),
        *,
        resolver: Resolver | None = None,
        resolve_timeout_s: float = 10.0,
    ) -> None:
        self.allow = parse_allow(allow)
        self._resolver = resolver or system_resolver
        self._resolve_timeout_s = resolve_timeout_s

    def allowed(self, ip: IPAddress) -> str | None:
        """None when `ip` may be reached, else the reason it may not."""
        return allowed(ip, self.allow)

    async def check(self, url: str | httpx.URL) -> list[IPAddress]:
        """The addresses `url` may be reached at; raises EgressRefused if any one is not allowed.

        A name that does not resolve raises httpx.ConnectError (or ConnectTimeout): that is a
        network failure a later attempt may get past, unlike a refusal.
        """
        text = str(url)
        try:
            u = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as e:
            raise EgressRefused(text, f"invalid URL: {e}") from None
        if u.scheme not in SCHEMES:
            raise EgressRefused(text, f"scheme {u.scheme or '(none)'!r} is not http or https")
        if u.userinfo:
            raise EgressRefused(text, "credentials in the URL")
        if not u.raw_host:
            raise EgressRefused(text, "no host")
        # Before `u.host`, which raises on a bad IDNA label: a host that can never be sent is
        # final, not an error that re-parks the job forever.
        problem = host_problem(u.raw_host.decode("ascii").strip("[]").lower())
        if problem is not None:
            raise EgressRefused(text, problem)
        port = u.port or (443 if u.scheme == "https" else 80)
        try:
            return await self.check_host(u.raw_host.decode("ascii"), port)
        except EgressRefused as e:
            raise EgressRefused(text, e.reason) from None

    async def check_host(self, host: str, port: int) -> list[IPAddress]:
        """Resolve `host` (unless it is an address already) and check every address."""
        addresses = await self._resolve(host, port)
        for ip in addresses:
            reason = self.allowed(ip)
            if reason is not None:
                where = f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"
                raise EgressRefused(where, reason if str(ip) == host else f"{host} -> {reason}")
        return addresses

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass  # a name, not an address
        host = host.removesuffix(".")  # `name.` is `name`, fully qualified: as configuration checks it
        try:
            async with asyncio.timeout(self._resolve_timeout_s):
                found = await self._resolver(host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as e:  # socket.gaierror and friends
            raise httpx.ConnectError(f"cannot resolve {host}: {e}") from e
        addresses = list(dict.fromkeys(ipaddress.ip_address(a) for a in found))
        if not addresses:
            raise httpx.ConnectError(f"{host} resolves to no address")
        return addresses


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy has just checked for this very connection."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.policy.check_host(host, port)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            # Inside httpcore, so speak httpcore: httpx maps these back to its own errors.
            kind = httpcore.ConnectTimeout if isinstance(e, httpx.ConnectTimeout) else httpcore.ConnectError
            raise kind(str(e)) from e
        last: Exception | None = None
        for ip in addresses:  # in resolver order, the next one only if this one cannot connect
            try:
                return await self._inner.connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused(f"unix:{path}", "unix sockets are not outward destinations")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every new connection goes to a policy-checked address.

    No proxy support, on purpose: through a proxy the proxy resolves the name, and the
    check would prove nothing. (An explicit transport also makes httpx ignore proxy
    environment variables.)
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        verify: ssl.SSLContext | bool = True,
        http2: bool = False,
        limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20),
        retries: int = 0,
    ) -> None:
        ssl_context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        super().__init__(verify=ssl_context, http2=http2, limits=limits, retries=retries)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            retries=retries,
            network_backend=_PinnedBackend(policy),
        )


async def guarded_request(
    client: httpx.AsyncClient,
    policy: EgressPolicy,
    method: str,
    url: str | httpx.URL,
    *,
    max_redirects: int = 5,
    stream: bool = False,
    **kw: Any,
) -> httpx.Response:
    """Send a request only to a checked URL, following up to `max_redirects` checked redirects.

    Redirects are followed like httpx would (301/302 turn POST into GET, 303 turns anything
    but HEAD into GET and drops the body, 307/308 keep method and body; credentials are not
    carried to another origin), but each `Location` is checked before it is requested.
    `kw` goes to `client.request`. With a plain client the rebinding window of the module
    docstring remains; give the client a `PinnedTransport` to close it. `stream=True` returns
    the final answer unread (the caller reads what it wants, then closes it).
    """
    target = httpx.URL(url)
    redirects = 0
    came_from: httpx.URL | None = None
    while True:
        await check_hop(policy, target, came_from)
        try:
            if stream:
                request = client.build_request(method, target, **kw)
                response = await client.send(request, stream=True, follow_redirects=False)
            else:
                response = await client.request(method, target, follow_redirects=False, **kw)
        except UnicodeError as e:  # httpx reads a redirect's Location even when not following
            raise EgressRefused(str(target), f"invalid location (redirect from {_origin(str(target))}):"
                                             f" {e}") from None
        location = response.headers.get("location")
        if response.status_code not in REDIRECT_STATUSES or location is None:
            return response
        await response.aclose()
        if redirects == max_redirects:
            raise EgressRefused(str(url), f"more than {max_redirects} redirects")
        redirects += 1
        came_from, target = target, join_location(target, location)
        method, kw = redirected(method, kw, response.status_code, same_origin(came_from, target))


async def check_hop(policy: EgressPolicy, target: httpx.URL, came_from: httpx.URL | None) -> None:
    """Check one hop before it is requested; a refused redirect names where it came from."""
    try:
        await policy.check(target)
    except EgressRefused as e:
        if came_from is None:
            raise
        raise EgressRefused(e.url, f"{e.reason} (redirect from {_origin(str(came_from))})") from None


def join_location(base: httpx.URL, location: str) -> httpx.URL:
    """Where a redirect goes (`Location` may be relative); an invalid one is refused."""
    try:
        return base.join(location)
    except httpx.InvalidURL as e:
        raise EgressRefused(location, f"invalid redirect location: {e}") from None


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.raw_host, a.port) == (b.scheme, b.raw_host, b.port)


def redirected(
    method: str, kw: dict[str, Any], status: int, same: bool
) -> tuple[str, dict[str, Any]]:
    """Method and request arguments for the next hop of a redirect."""
    kw = dict(kw)
    kw.pop("params", None)  # already part of the URL that was redirected; Location is complete
    headers = httpx.Headers(kw.get("headers"))
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
        for arg in _BODY_ARGS:
            kw.pop(arg, None)
        for name in _BODY_HEADERS:
            headers.pop(name, None)
    if not same:
        for name in _CREDENTIAL_HEADERS:
            headers.pop(name, None)
    kw["headers"] = headers
    return method, kw
