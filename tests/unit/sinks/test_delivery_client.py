"""The aiohttp sender's resolver: every new connection gets only addresses the policy checked.

No network: names are answered by injected resolvers (as in test_egress.py).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

import pytest

from clickpath.sinks.delivery.client import PinnedResolver, drain_bounded
from clickpath.sinks.delivery.egress import EgressPolicy, EgressRefused


def answering(*addresses: str):
    async def resolve(host: str, port: int) -> Sequence[str]:
        return addresses

    return resolve


def resolve(policy: EgressPolicy, host: str, port: int = 443) -> list:
    return asyncio.run(PinnedResolver(policy).resolve(host, port, socket.AF_UNSPEC))


def test_the_connector_gets_the_checked_addresses_as_numeric_hosts_for_the_real_name() -> None:
    policy = EgressPolicy(resolver=answering("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"))
    got = resolve(policy, "partner.example")
    assert [(r["hostname"], r["host"], r["port"], r["family"]) for r in got] == [
        ("partner.example", "93.184.216.34", 443, socket.AF_INET),
        ("partner.example", "2606:2800:220:1:248:1893:25c8:1946", 443, socket.AF_INET6),
    ]
    assert all(r["flags"] == socket.AI_NUMERICHOST for r in got)  # no second lookup of these


def test_one_internal_address_refuses_the_name() -> None:
    policy = EgressPolicy(resolver=answering("93.184.216.34", "10.0.0.7"))
    with pytest.raises(EgressRefused, match="partner.example -> private address 10.0.0.7"):
        resolve(policy, "partner.example")


def test_a_name_that_does_not_resolve_is_a_network_error_for_aiohttp() -> None:
    async def fails(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(OSError, match="cannot resolve partner.example") as info:
        resolve(EgressPolicy(resolver=fails), "partner.example")
    assert not isinstance(info.value, EgressRefused)  # a later attempt may get past it


class Body:
    """An answer's body arriving in chunks, as aiohttp's StreamReader hands it out."""

    def __init__(self, size: int, chunk: int = 1000) -> None:
        self.left, self.chunk, self.read_total = size, chunk, 0

    async def read(self, n: int = -1) -> bytes:
        got = min(self.left, self.chunk, n if n >= 0 else self.left)
        self.left -= got
        self.read_total += got
        return b"x" * got

    def at_eof(self) -> bool:
        return self.left == 0


def test_a_short_answer_is_read_whole_so_its_connection_is_reused() -> None:
    body = Body(5_000)
    assert asyncio.run(drain_bounded(body, limit=10_000)) is True
    assert body.read_total == 5_000


def test_a_long_answer_is_read_no_further_than_the_limit() -> None:
    body = Body(10_000_000)
    assert asyncio.run(drain_bounded(body, limit=64 * 1024)) is False
    assert body.read_total == 64 * 1024


def test_an_answer_of_exactly_the_limit_is_complete() -> None:
    body = Body(4_000)
    assert asyncio.run(drain_bounded(body, limit=4_000)) is True


def test_the_httpx_sender_reads_a_partners_answer_no_further_than_the_limit() -> None:
    """Issue 13, Low: partner bodies are read with a cap on both senders."""
    import httpx

    from clickpath.sinks.delivery.client import MAX_ANSWER_BYTES, HttpxSender
    from clickpath.sinks.delivery.render import OutboundRequest

    served = {"bytes": 0}

    async def endless():
        for _ in range(10_000):  # 640 MB if read whole
            served["bytes"] += 64 * 1024
            yield b"x" * (64 * 1024)

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=endless()))
    policy = EgressPolicy(resolver=answering("93.184.216.34"))

    async def go():
        async with httpx.AsyncClient(transport=transport) as client:
            sender = HttpxSender(client, policy, clock=lambda: 0.0)
            return await sender.send(OutboundRequest("GET", "http://partner.example/pb", {}, b""))

    answer = asyncio.run(go())
    assert answer.status == 200
    assert served["bytes"] <= MAX_ANSWER_BYTES + 2 * 64 * 1024
