"""How a lane sends one request: through the egress guard, on a pinned connection pool.

Two senders, one contract (`send(request) -> Answer`, never raising for what a partner or
the network did):

* `PinnedClient`, the default: aiohttp (installed with faust). Profiled under the delivery
  benchmark, httpx with httpcore spent about 0.9 CPU-ms per request in its layers (client,
  pool, anyio, h11), half of the process's 1.9 ms per delivery; aiohttp (C response parser,
  one stream layer) about 0.16 of 0.6. That difference is most of what kept one delivery
  process under 1,000 deliveries/s.
* `HttpxSender`: an httpx client given by the caller (the engine's tests answer requests in
  memory with httpx.MockTransport), through `egress.guarded_request`.

The egress guarantees hold the same way on both (see `egress` for the two layers):
- each hop's URL is checked by the policy before it is requested; redirects are followed
  here, never by the client (`allow_redirects=False`), each `Location` checked first;
- every new connection to a name is made only to addresses the policy has just checked:
  aiohttp's connector asks `PinnedResolver`, which resolves with the policy and checks every
  address, and nothing is cached (`use_dns_cache=False`), so there is no rebinding window.
  An address literal is not resolved by aiohttp; the hop check has just checked that very
  address. The URL, `Host`, TLS SNI and certificate check keep the real hostname.
- no proxy (`trust_env=False`: through a proxy the check would prove nothing) and no cookie
  jar (a partner's cookies are not sent back with later deliveries).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from clickpath.infra.limits import Clock
from clickpath.sinks.delivery.egress import (
    REDIRECT_STATUSES,
    EgressPolicy,
    EgressRefused,
    check_hop,
    guarded_request,
    join_location,
    redirected,
    same_origin,
)
from clickpath.sinks.delivery.render import OutboundRequest

MAX_REDIRECTS = 5
# A partner's answer is read only so its connection can go back to the pool; past this much it
# is not read at all (the connection is dropped instead), so no endpoint can fill our memory.
MAX_ANSWER_BYTES = 64 * 1024


class Readable(Protocol):
    async def read(self, n: int = -1) -> bytes: ...

    def at_eof(self) -> bool: ...


async def drain_bounded(content: Readable, limit: int = MAX_ANSWER_BYTES) -> bool:
    """Read an answer's body up to `limit` bytes; True when it ended within that (reusable)."""
    left = limit
    while left > 0:
        chunk = await content.read(left)
        if not chunk:
            return True
        left -= len(chunk)
    return content.at_eof()


async def drain_httpx_bounded(response: httpx.Response, limit: int = MAX_ANSWER_BYTES) -> bool:
    """drain_bounded for an httpx answer opened with stream=True: True when it ended within
    `limit` bytes; past that nothing more is read (closing it drops the connection)."""
    if response.is_stream_consumed:  # an answer made whole in memory (tests): nothing to read
        return True
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > limit:
            return False
    return True


NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError, httpx.HTTPError)


@dataclass(frozen=True, slots=True)
class Answer:
    """What one request came back with: a status (and Retry-After), a network error, or a
    refusal by the egress guard (final); `latency_ms` by the engine's clock."""

    status: int | None = None
    retry_after: str | None = None
    error: str | None = None
    refused: str | None = None
    latency_ms: int = 0


class Sender(Protocol):
    async def send(self, request: OutboundRequest) -> Answer: ...

    async def aclose(self) -> None: ...


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


class _Timed:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def _ms(self, started: float) -> int:
        return max(0, int((self.clock() - started) * 1000))  # a wall clock may step back


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver for every new connection: the policy's resolution, every address
    checked; a refusal propagates as `EgressRefused` (final), a failure to resolve as OSError
    (a network error, which a later attempt may get past)."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        try:
            addresses = await self.policy.check_host(host, port)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise OSError(str(e)) from e
        return [
            ResolveResult(hostname=host, host=str(ip), port=port, proto=0, flags=socket.AI_NUMERICHOST,
                          family=socket.AF_INET6 if ip.version == 6 else socket.AF_INET)
            for ip in addresses  # in resolver order: the next one only if this one cannot connect
        ]

    async def close(self) -> None:
        pass


class PinnedClient(_Timed):
    """aiohttp, pinned: a pool of `connections` for one lane; `timeout_s` bounds each hop."""

    def __init__(self, policy: EgressPolicy, clock: Clock, timeout_s: float, connections: int,
                 verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(clock)
        self.policy, self.timeout_s, self.connections, self.verify = policy, timeout_s, connections, verify
        self._session: aiohttp.ClientSession | None = None  # made on the running loop, at first use

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=PinnedResolver(self.policy), use_dns_cache=False, limit=self.connections,
                limit_per_host=0, ssl=self.verify,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                cookie_jar=aiohttp.DummyCookieJar(), trust_env=False, auto_decompress=False,
            )
        return self._session

    async def send(self, request: OutboundRequest) -> Answer:
        started = self.clock()
        try:
            status, retry_after = await self.fetch(request.method, request.url, request.headers,
                                                   request.content)
        except EgressRefused as e:
            return Answer(refused=f"refused by the egress guard: {e}", latency_ms=self._ms(started))
        except NETWORK_ERRORS as e:
            return Answer(error=_error_text(e), latency_ms=self._ms(started))
        return Answer(status=status, retry_after=retry_after, latency_ms=self._ms(started))

    async def fetch(self, method: str, url: str, headers: dict[str, str],
                    content: bytes) -> tuple[int, str | None]:
        """The final answer's status and Retry-After, following up to MAX_REDIRECTS checked
        redirects by the rules of `egress.guarded_request`; raises what went wrong."""
        target = httpx.URL(url)
        came_from: httpx.URL | None = None
        kw: dict[str, Any] = {"headers": headers, "content": content}
        redirects = 0
        while True:
            await check_hop(self.policy, target, came_from)
            hop_headers: dict[str, str] | httpx.Headers = kw["headers"]
            # The URL exactly as httpx would send it (already encoded: yarl leaves it alone).
            async with self.session().request(
                method, URL(str(target), encoded=True), allow_redirects=False,
                headers=dict(hop_headers.items()) if isinstance(hop_headers, httpx.Headers) else hop_headers,
                data=kw.get("content") or None,
            ) as response:
                if not await drain_bounded(response.content):
                    response.close()  # too long to read: drop the connection rather than pool it
                status, location = response.status, response.headers.get("location")
                if status not in REDIRECT_STATUSES or location is None:
                    return status, response.headers.get("retry-after")
            if redirects == MAX_REDIRECTS:
                raise EgressRefused(url, f"more than {MAX_REDIRECTS} redirects")
            redirects += 1
            came_from, target = target, join_location(target, location)
            method, kw = redirected(method, kw, status, same_origin(came_from, target))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class HttpxSender(_Timed):
    """An httpx client given by the caller, through `guarded_request` (pin it with
    `egress.PinnedTransport`, or answer in memory in tests)."""

    def __init__(self, client: httpx.AsyncClient, policy: EgressPolicy, clock: Clock) -> None:
        super().__init__(clock)
        self.client, self.policy = client, policy

    async def send(self, request: OutboundRequest) -> Answer:
        started = self.clock()
        try:
            response = await guarded_request(self.client, self.policy, request.method, request.url,
                                             headers=request.headers, content=request.content,
                                             stream=True)
            try:  # read at most MAX_ANSWER_BYTES of the answer, as the aiohttp sender does
                await drain_httpx_bounded(response)
            finally:
                await response.aclose()
        except EgressRefused as e:
            return Answer(refused=f"refused by the egress guard: {e}", latency_ms=self._ms(started))
        except httpx.HTTPError as e:
            return Answer(error=_error_text(e), latency_ms=self._ms(started))
        return Answer(status=response.status_code, retry_after=response.headers.get("retry-after"),
                      latency_ms=self._ms(started))

    async def aclose(self) -> None:
        pass  # the caller's client: the caller closes it
