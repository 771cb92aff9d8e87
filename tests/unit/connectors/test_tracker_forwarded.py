"""The tracker believes the forwarded IP and country headers only from a trusted proxy, by
default loopback only (review 21 item 5a and 5c)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.domain.catalogue import AffiliateConfig, CampaignConfig
from clickpath.settings import Settings

HEADERS = {"X-Forwarded-For": "203.0.113.9", "CF-IPCountry": "de", "User-Agent": "TestBrowser/1.0"}


class Recording(IngressContext):
    sent: list

    async def send(self, events):  # type: ignore[override]
        self.sent.extend(events)
        return [None] * len(events)


def click_from(tmp_path, peer: str, **overrides):
    settings = Settings(
        data_dir=tmp_path, pseudonym_key="unit-test-key",
        tracker_client_ip_header="X-Forwarded-For", tracker_country_header="CF-IPCountry",
        affiliates={"aff-1": AffiliateConfig(campaigns={
            "c": CampaignConfig(brand_id="brand-a", landing_url="https://casino.example/?c={click_id}"),
        })},
        **overrides,
    )
    ctx = Recording.from_settings(settings)
    ctx.sent = []
    with TestClient(create_service(settings, ctx), follow_redirects=False, client=(peer, 50000)) as client:
        r = client.get("/c", params={"aff": "aff-1", "campaign": "c"}, headers=HEADERS)
    assert r.status_code == 302, r.text
    (click,) = [e for e in ctx.sent if type(e).__name__ == "Click"]
    return click


@pytest.mark.parametrize(("peer", "overrides", "believed"), [
    ("127.0.0.1", {}, True),                     # a proxy on the same host, the default
    ("::1", {}, True),
    ("198.51.100.7", {}, False),                 # a client reaching the service directly
    ("10.1.2.3", {}, False),                     # a proxy elsewhere must be listed ...
    ("10.1.2.3", {"tracker_trusted_proxies": ["10.0.0.0/8"]}, True),  # ... and then counts
    ("127.0.0.1", {"tracker_trusted_proxies": []}, False),            # []: no peer is believed
])
def test_forwarded_ip_and_country_count_only_from_a_trusted_proxy(tmp_path, peer, overrides, believed):
    click = click_from(tmp_path, peer, **overrides)
    if believed:
        assert (click.ip_prefix, click.country) == ("203.0.0.0/16", "DE")
    else:
        assert click.country is None, "the geo header was believed from an untrusted peer"
        assert click.ip_prefix != "203.0.0.0/16", "the IP header was believed from an untrusted peer"
