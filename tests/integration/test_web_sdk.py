"""The web SDK in a real browser: tracking link -> tracker -> landing page -> registration.

Headless Debian chromium (driven by selenium through /usr/bin/chromedriver) opens a tracking
link on the real service (real broker); the campaign lands on a page served by a tiny local
"operator site", which loads the SDK, and whose registration form sends `clickpath.clickId()`
to the site's fake back end. The click on the topic and the registration must name the same id.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.contracts.models import Click, PageView
from clickpath.contracts.topics import Topic
from clickpath.domain.catalogue import CampaignConfig
from clickpath.domain.tracking import CLICK_ID_RE
from clickpath.infra.broker import free_port
from clickpath.settings import Settings
from tests.integration.harness import ServedApp, read_topic, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason="needs Debian chromium and chromium-driver (`make chromium` installs them)",
)

# The page counts the SDK's fetches, so "no consent, nothing sent" is checked, not waited for.
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Casino</title>
<script>
  window.collects = 0;
  var realFetch = window.fetch;
  window.fetch = function () { window.collects++; return realFetch.apply(this, arguments); };
</script>
<script src="TRACKER/sdk/clickpath.js"CONSENT></script>
</head><body>
<form id="register" method="post" action="/register">
  <input name="email" type="email"><input name="click_id" type="hidden">
  <button id="submit" type="submit">Register</button>
</form>
<script>
  document.getElementById('register').addEventListener('submit', function (e) {
    e.target.elements.click_id.value = window.clickpath.clickId() || '';
  });
</script>
</body></html>"""


class OperatorSite:
    """The operator's landing pages and its registration back end, on a free loopback port.

    It listens from construction, so the campaign can name it before the tracker starts; the
    tracker's URL (for the SDK's script tag) is set once the service is up.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"  # not 127.0.0.1: records must not hold the IP
        self.tracker_url = ""
        self.registrations: list[dict[str, str]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                consent = ' data-consent="true"' if self.path.startswith("/landing") else ""
                self._answer(PAGE.replace("TRACKER", site.tracker_url).replace("CONSENT", consent))

            def do_POST(self) -> None:  # noqa: N802
                form = parse_qs(self.rfile.read(int(self.headers["content-length"])).decode())
                site.registrations.append({k: v[0] for k, v in form.items()})
                self._answer("<!doctype html><p id='done'>registered</p>")

            def _answer(self, body: str) -> None:
                data = body.encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OperatorSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _chromium_pids(profile: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(profile).encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.fixture
def browser(tmp_path: Path) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path / "chromium-profile"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,800",
    ):
        options.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        wait_until(lambda: not _chromium_pids(profile), 15, "chromium to exit", every_s=0.1)
        shutil.rmtree(profile, ignore_errors=True)


def test_the_click_id_travels_from_the_link_to_the_registration(settings: Settings, codec, browser) -> None:
    from selenium.webdriver.common.by import By

    with OperatorSite() as site:
        landing = f"{site.url}/landing?click_id={{click_id}}&sub1={{sub1}}&newsletter=ann%40example.com"
        aff1 = settings.affiliates["aff-1"].model_copy(
            update={
                "campaigns": {
                    "web": CampaignConfig(brand_id="brand-web", landing_url=landing, tracking_code="web1"),
                }
            }
        )
        web_settings = settings.with_overrides(affiliates={**settings.affiliates, "aff-1": aff1})
        with ServedApp(create_service(web_settings, IngressContext.from_settings(web_settings))) as service:
            site.tracker_url = service.url

            # 1. The visitor follows the affiliate's link; the tracker records and redirects.
            browser.get(f"{service.url}/c/web1?sub1=banner-7&utm_source=newsletter")
            wait_until(
                lambda: browser.current_url.startswith(f"{site.url}/landing"),
                20,
                "the redirect to the landing page",
            )
            click_id = wait_until(
                lambda: browser.execute_script("return window.clickpath && window.clickpath.clickId()"),
                20,
                "the SDK's click id",
            )
            assert CLICK_ID_RE.match(click_id)
            assert browser.current_url == (
                f"{site.url}/landing?click_id={click_id}&sub1=banner-7"
                "&newsletter=ann%40example.com&utm_source=newsletter"
            )

            # 2. The Click the tracker recorded is that click, pseudonymised.
            clicks = read_topic(web_settings, codec, Topic.CLICKS, 1)
            [(msg, click)] = [(m, c) for m, c in clicks if c.click_id == click_id]
            assert isinstance(click, Click) and msg.key() == click_id.encode()
            assert (click.affiliate_id, click.campaign_id, click.brand_id, click.sub1) == (
                "aff-1",
                "web",
                "brand-web",
                "banner-7",
            )
            assert click.ip_hash and click.ip_prefix == "127.0.0.0/16"
            assert "HeadlessChrome" in (click.user_agent or "")
            assert b"127.0.0.1" not in msg.value() and "127.0.0.1" not in click.model_dump_json()

            # 3. With consent, the SDK sent the page's context: a PageView for the same click.
            views = read_topic(web_settings, codec, Topic.PAGE_VIEWS, 1)
            [(vmsg, view)] = [(m, v) for m, v in views if v.click_id == click_id]
            assert isinstance(view, PageView) and view.brand_id == "brand-web"
            assert view.page_url == (
                f"{site.url}/landing?click_id={click_id}&sub1=banner-7&utm_source=newsletter"
            ), "the e-mail must not pass ingress"
            assert view.viewport in ("medium", "large") and view.language and view.platform
            assert view.device_id and view.ip_prefix == "127.0.0.0/16"
            assert b"127.0.0.1" not in vmsg.value()
            assert browser.get_cookie("cp_did")["value"] == view.device_id
            assert browser.execute_script("return window.collects") == 1

            # 4. The registration form carries the click id to the operator's back end.
            browser.find_element(By.NAME, "email").send_keys("ann@example.com")
            browser.find_element(By.ID, "submit").click()
            wait_until(lambda: site.registrations, 20, "the registration to reach the operator")
            assert site.registrations == [{"email": "ann@example.com", "click_id": click_id}]

            # 5. Later pages without the click in their URL still know it (cookie and
            #    localStorage); without consent on the page nothing is sent.
            browser.get(f"{site.url}/account")
            wait_until(lambda: browser.execute_script("return !!window.clickpath"), 20, "the SDK")
            assert browser.execute_script("return window.clickpath.clickId()") == click_id
            assert browser.get_cookie("cp_click")["value"] == click_id
            assert browser.execute_script("return localStorage.getItem('cp_click')") == click_id
            assert browser.execute_script("return window.collects") == 0
