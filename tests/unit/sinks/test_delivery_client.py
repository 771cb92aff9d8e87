"""The aiohttp sender's resolver: every new connection gets only addresses the policy checked.

No network: names are answered by injected resolvers (as in test_egress.py).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

import pytest

from clickpath.sinks.delivery.client import PinnedResolver
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
