"""`clickpath postbacks add` and the admin endpoints API refuse forbidden destinations at
configuration, with the reason (issue 13, Low): before, only the send-time guard did."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.run.cli import main
from clickpath.settings import Settings


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    for var in ("CLICKPATH_EGRESS_ALLOW", "CLICKPATH_CONFIG", "CLICKPATH_AFFILIATES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(tmp_path / "cp"))
    monkeypatch.setenv("CLICKPATH_AUDIT_KEY", "unit-test-audit-key-of-at-least-32-bytes")  # recorded
    monkeypatch.setenv("CLICKPATH_AFFILIATES", '{"aff-1": {"name": "One"}}')  # `add` knows it
    return tmp_path / "cp"


def add(url: str) -> list[str]:
    return ["postbacks", "add", "pb-1", "--affiliate", "aff-1", "--url", url, "--events", "ftd"]


@pytest.mark.parametrize(("url", "reason"), [
    ("http://169.254.169.254/pb?c={click_id}", "cloud metadata address"),
    ("http://[fec0::1]/pb?c={click_id}", "site-local address"),
    ("http://localhost/pb?c={click_id}", "loopback address"),
])
def test_postbacks_add_refuses_forbidden_destinations(url, reason, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(add(url))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert reason in err and "CLICKPATH_EGRESS_ALLOW" in err


def test_postbacks_add_accepts_a_name_that_does_not_resolve_yet(data_dir, capsys) -> None:
    main(add("https://postbacks.partner.invalid/pb?c={click_id}"))
    assert "pb-1: enabled" in capsys.readouterr().err
    assert "partner.invalid" in (data_dir / "endpoints.json").read_text()


def test_the_admin_api_refuses_a_metadata_address(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "svc", pseudonym_key="unit-test-key")
    ctx = IngressContext.from_settings(settings)
    _, secret = ctx.keys.create("admin")
    with TestClient(create_service(settings, ctx)) as client:
        r = client.put("/v1/admin/endpoints/pb-1", headers={"Authorization": f"Bearer {secret}"},
                       json={"affiliate_id": "aff-1", "events": ["ftd"],
                             "url": "http://169.254.169.254/pb?c={click_id}"})
    assert r.status_code == 422, r.text
    assert "cloud metadata address" in r.text


@pytest.mark.parametrize(("url", "says"), [
    ("http://localhost./pb?c={click_id}", "url: deliveries may not go to localhost resolves to a loopback"),
    ("http://api.localhost/pb?c={click_id}", "url: deliveries may not go to api.localhost resolves"),
    ("http://user:pw@partner.example/pb?c={click_id}", "url: credentials in the URL"),
    ("http://xn--/pb?c={click_id}", "url: host 'xn--' is not a valid name"),
])
def test_what_the_send_time_guard_would_refuse_is_refused_at_configuration(url, says, capsys) -> None:
    """Issue 21, item 25: these passed `postbacks add` and failed only when sent."""
    with pytest.raises(SystemExit) as exit_:
        main(add(url))
    assert exit_.value.code == 2
    assert says in capsys.readouterr().err


def test_a_webhook_url_with_credentials_or_a_bad_host_is_refused(capsys) -> None:
    for url, says in (("https://u:p@crm.example/hook", "url: credentials"),
                      ("https://xn--/hook", "url: host 'xn--'")):
        with pytest.raises(SystemExit):
            main(["webhooks", "add", "wh-1", "--brand", "b", "--events", "ftd", "--url", url])
        assert says in capsys.readouterr().err
