"""Which IP addresses outward deliveries may reach: the SSRF guard's rules, with no I/O.

Shared by the send-time guard (clickpath.sinks.delivery.egress, which also pins connections) and
the configuration-time check (`clickpath postbacks add`, the admin endpoints API): loopback,
RFC 1918 / ULA, site-local (fec0::/10), link-local (the cloud metadata service at
169.254.169.254 and fd00:ec2::254), CGNAT, multicast, reserved and unspecified addresses are
refused, as are IPv4 addresses hidden in IPv6 (mapped, 6to4, NAT64), unless an operator CIDR
(`CLICKPATH_EGRESS_ALLOW`) contains the address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated (RFC 3879), still routed inside sites


def embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to the same host (mapped, 6to4, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why `ip` is not a public destination, or None when it is."""
    inner = embedded_v4(ip)
    if inner is not None:
        reason = refusal(inner)
        return f"{reason} (carried in {ip})" if reason else None
    checks: tuple[tuple[bool, str], ...] = (
        (ip in METADATA, "cloud metadata address"),
        (ip.is_unspecified, "unspecified address"),
        (ip.is_loopback, "loopback address"),
        (ip.is_link_local, "link-local address"),
        (ip in SITE_LOCAL, "site-local address"),
        (ip.is_multicast, "multicast address"),
        (ip in CGNAT, "shared (CGNAT) address"),
        (ip.is_reserved, "reserved address"),
        (ip.is_private, "private address"),  # Python counts documentation and benchmark nets here too
        (not ip.is_global, "address not globally routable"),
    )
    for hit, reason in checks:
        if hit:
            return f"{reason} {ip}"
    return None


def parse_allow(allow: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (or bare addresses) from configuration; a typo fails at start-up, not at send time."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in allow if c.strip())


def allowed(ip: IPAddress, allow: Sequence[IPNetwork]) -> str | None:
    """None when `ip` may be reached (public, or in an allowed CIDR), else the reason not."""
    inner = embedded_v4(ip)
    if any(ip in net or (inner is not None and inner in net) for net in allow):
        return None
    return refusal(ip)


def destination_refusal(
    url: str, allow: Iterable[str], resolve: Callable[[str], Sequence[str]]
) -> str | None:
    """Why a configured URL (a postback template, a webhook URL) points where deliveries may not
    go, or None. A literal address is checked as it is; a name by every address `resolve`
    gives; a name that does not resolve (yet) is accepted, as `resolve` raising OSError says.
    The send-time guard checks again, and pins what it checked."""
    host = urlsplit(url).hostname
    if not host:
        return None  # the template checks say so, in their words
    # `localhost.` is `localhost` fully qualified: checked (and resolved) as the name it is,
    # as the send-time guard does, so that it cannot pass here and be refused there.
    host = host.removesuffix(".")
    networks = parse_allow(allow)
    try:
        return allowed(ipaddress.ip_address(host), networks)
    except ValueError:
        pass  # a name
    try:
        # RFC 6761: localhost names are loopback whatever a resolver says (or fails to say).
        found = ["127.0.0.1"] if host == "localhost" or host.endswith(".localhost") else resolve(host)
    except OSError:
        return None
    for text in dict.fromkeys(found):
        try:
            reason = allowed(ipaddress.ip_address(text.split("%")[0]), networks)
        except ValueError:
            continue
        if reason is not None:
            return f"{host} resolves to a {reason}"
    return None
