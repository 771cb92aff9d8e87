"""The HTTP service: where it listens, the click tracker and web SDK, and the hardening of its
doors (body caps, rate limits, the click bot screen, trusted proxies; docs/security.md)."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, Field, field_validator


class HttpSettings(BaseModel):
    """The service's address, the tracker's proxies and headers, caps and rate limits, /metrics."""

    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # Click tracker and web SDK.
    tracker_base_url: str | None = Field(
        default=None, description="Public URL of the tracker in `clickpath links`; default the service's."
    )
    tracker_client_ip_header: str | None = Field(
        default=None,
        description="Take the visitor's IP from this header (X-Forwarded-For, CF-Connecting-IP);"
        " set it only behind a proxy that overwrites it. Unset: the TCP peer.",
    )
    tracker_proxy_hops: int = Field(
        default=1, ge=1, le=10, description="Trusted proxies that append to X-Forwarded-For."
    )
    tracker_trusted_proxies: list[str] = Field(
        default=["127.0.0.0/8", "::1"],
        description="Addresses or networks (CIDR) of the proxies whose client IP and country headers"
        " are believed; from any other peer they are ignored. Default: loopback only; []: none.",
    )
    tracker_country_header: str | None = Field(
        default=None, description="Take the visitor's country from this header (CF-IPCountry)."
    )
    collect_origins: list[str] = Field(
        default=[], description="Origins allowed to POST /v1/collect besides the landing URLs'."
    )

    # HTTP hardening (docs/security.md): body caps, rate limits of the keyless doors and
    # postback-in, the click bot screen, where a role's own /metrics listens.
    http_max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Largest request body (the event API's)."
    )
    collect_max_body_bytes: int = Field(default=8192, ge=256, description="Body cap of /v1/collect.")
    postback_max_body_bytes: int = Field(default=4096, ge=0, description="Body cap of /v1/postback.")
    admin_max_body_bytes: int = Field(default=65536, ge=1024, description="Body cap of /v1/admin/*.")
    tracker_rate_per_s: float = Field(default=50, gt=0, description="Clicks/s per IP prefix.")
    tracker_rate_burst: int = Field(default=200, ge=1, description="Clicks an IP prefix may send at once.")
    collect_rate_per_s: float = Field(default=50, gt=0, description="/v1/collect requests/s per IP prefix.")
    collect_rate_burst: int = Field(default=200, ge=1)
    postback_rate_per_s: float = Field(
        default=1000, gt=0, description="/v1/postback requests/s per IP prefix and per key."
    )
    postback_rate_burst: int = Field(default=2000, ge=1)
    rate_limit_buckets: int = Field(
        default=100_000, ge=100, description="Rate-limit buckets kept per door (least recent go)."
    )
    bot_click_rate_per_s: float = Field(
        default=2, gt=0, description="Clicks/s from one IP beyond which clicks count as a bot's."
    )
    bot_click_burst: int = Field(default=30, ge=1)
    postback_query_key: bool = Field(
        default=True, description="Accept postback-in's key as ?key= (it lands in access logs)."
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address a role's own /metrics listener binds."
    )
    metrics_port: int | None = Field(
        default=None, description="Serve this role's /metrics here when run on its own."
    )

    @field_validator("tracker_trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"tracker_trusted_proxies: {entry!r} is not an IP address or "
                                 "network (CIDR)") from None
        return [entry.strip() for entry in value]

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(e, strict=False) for e in self.tracker_trusted_proxies)
