"""A browser pointed at the service gets a landing page, not a 401; `/docs` and `/redoc` load
nothing from a CDN (issue 21, item 16)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.unit.connectors.http_support import service

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_browser_gets_a_landing_page_without_a_key(tmp_path) -> None:
    app, _ = service(tmp_path)
    with TestClient(app) as client:
        page = client.get("/", headers=BROWSER)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        for link in ('href="/docs"', 'href="/redoc"', 'href="/openapi.json"', "docs/http-api.md"):
            assert link in page.text
        index = client.get("/", headers={"Accept": "application/json"})
        assert index.status_code == 200 and index.json()["docs"] == "/docs"


def test_the_doc_pages_reference_only_assets_the_service_serves(tmp_path) -> None:
    app, _ = service(tmp_path)
    with TestClient(app) as client:
        for path in ("/docs", "/redoc"):
            page = client.get(path, headers=BROWSER)
            assert page.status_code == 200, page.text
            urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""", page.text)
            urls = {a or b for a, b in urls}
            assert urls, page.text
            assert not any("//" in u for u in urls), f"{path} loads from elsewhere: {urls}"
            assets = {u for u in urls if u.startswith("/docs/assets/")}
            assert assets, urls
            for url in assets:
                r = client.get(url)
                assert r.status_code == 200 and len(r.content) > 1000, url
            assert "cdn" not in page.text.lower() and "fonts.googleapis" not in page.text
        assert client.get("/docs/assets/%2E%2E%2Fsettings.py").status_code == 404
        assert client.get("/docs/assets/nope.js").status_code == 404
        assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
