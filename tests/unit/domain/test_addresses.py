"""The SSRF rules: site-local IPv6 is refused (issue 13, Low), and a configured destination is
checked when it is configured: literal forbidden addresses and names resolving to forbidden
ranges are refused with the reason; names that do not resolve yet are accepted."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from clickpath.domain.addresses import destination_refusal, refusal


@pytest.mark.parametrize("ip", ["fec0::1", "feff:ffff::1", "169.254.169.254", "fd00:ec2::254",
                                "10.1.2.3", "::ffff:127.0.0.1", "100.64.0.1"])
def test_forbidden_addresses_are_refused(ip) -> None:
    assert refusal(ipaddress.ip_address(ip))


def test_site_local_is_named() -> None:
    assert refusal(ipaddress.ip_address("fec0::1")) == "site-local address fec0::1"


def table(answers: dict[str, list[str]]):
    def resolve(host: str) -> list[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]
    return resolve


DNS = table({"partner.example": ["93.184.216.34"], "sneaky.example": ["93.184.216.34", "10.0.0.7"],
             "meta.example": ["169.254.169.254"]})


@pytest.mark.parametrize(("url", "expected"), [
    ("http://169.254.169.254/latest/meta-data", "cloud metadata address"),
    ("http://[fec0::1]/pb", "site-local address"),
    ("http://sneaky.example/pb", "sneaky.example resolves to a private address 10.0.0.7"),
    ("http://meta.example/pb", "cloud metadata address"),
    ("http://partner.example/pb", None),
    ("http://not-yet.example/pb", None),  # does not resolve yet: accepted
])
def test_destinations_are_checked_at_configuration(url, expected) -> None:
    reason = destination_refusal(url, [], DNS)
    assert (reason is None) if expected is None else (expected in (reason or ""))


def test_an_allowed_network_passes() -> None:
    assert destination_refusal("http://10.0.0.7/pb", ["10.0.0.0/8"], DNS) is None
