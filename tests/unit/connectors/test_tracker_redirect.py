"""A click on an IDN landing URL redirects (it was a 500 on every click, after the click was
recorded), and a click whose redirect cannot be made is not recorded (issue 13, Medium 7)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.domain.catalogue import AffiliateConfig, CampaignConfig
from clickpath.settings import Settings


class Recording(IngressContext):
    sent: list

    async def send(self, events):  # type: ignore[override]
        self.sent.extend(events)
        return [None] * len(events)


@pytest.fixture
def tracker(tmp_path):
    settings = Settings(data_dir=tmp_path, pseudonym_key="unit-test-key", affiliates={
        "aff-1": AffiliateConfig(campaigns={
            "idn": CampaignConfig(brand_id="brand-a", landing_url="https://例え.jp/?c={click_id}"),
        }),
    })
    ctx = Recording.from_settings(settings)
    ctx.sent = []
    with TestClient(create_service(settings, ctx), raise_server_exceptions=False,
                    follow_redirects=False) as client:
        yield client, ctx


def test_a_click_on_an_idn_landing_url_redirects(tracker) -> None:
    client, ctx = tracker
    r = client.get("/c", params={"aff": "aff-1", "campaign": "idn"})
    assert r.status_code == 302, r.text
    assert r.headers["location"].startswith("https://xn--r8jz45g.jp/?c=")
    assert len(ctx.sent) == 1


def test_a_click_whose_redirect_fails_is_not_recorded(tracker, monkeypatch) -> None:
    client, ctx = tracker

    def broken(url: str):
        raise UnicodeEncodeError("latin-1", url, 0, 1, "cannot be a header")

    monkeypatch.setattr("clickpath.connectors.tracker.redirect", broken)
    r = client.get("/c", params={"aff": "aff-1", "campaign": "idn"})
    assert r.status_code == 500
    assert ctx.sent == []
