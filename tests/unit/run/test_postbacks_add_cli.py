"""`clickpath postbacks add` says what is wrong before it writes anything (issue 21, item 15):
an affiliate clickpath does not know, an id already in use (unless --replace); `postbacks
presets` shows the events `add` subscribes; an operator key refused by the admin API is "an
operator key"."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.domain.presets import PRESETS
from clickpath.run.cli import main
from clickpath.settings import Settings

URL = "https://aff.partner.invalid/pb?c={click_id}"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    for var in ("CLICKPATH_EGRESS_ALLOW", "CLICKPATH_CONFIG", "CLICKPATH_ENDPOINTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(tmp_path / "cp"))
    monkeypatch.setenv("CLICKPATH_AUDIT_KEY", "unit-test-audit-key-of-at-least-32-bytes")  # recorded
    monkeypatch.setenv("CLICKPATH_AFFILIATES", '{"aff-1": {"name": "One"}, "aff-2": {"name": "Two"}}')
    return tmp_path / "cp"


def add(endpoint_id: str, affiliate: str, *extra: str) -> list[str]:
    return ["postbacks", "add", endpoint_id, "--affiliate", affiliate, "--url", URL, "--events", "ftd",
            *extra]


def refused(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_an_unknown_affiliate_is_refused_naming_the_known_ones(data_dir, capsys) -> None:
    err = refused(add("pb-1", "aff-9"), capsys)
    assert "--affiliate: unknown affiliate 'aff-9' (known: aff-1, aff-2)" in err
    assert not (data_dir / "endpoints.json").exists()


def test_an_affiliate_added_on_the_running_service_is_known(data_dir, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CLICKPATH_AFFILIATES", "{}")
    data_dir.mkdir(parents=True)
    (data_dir / "catalogue.json").write_text(json.dumps({"affiliates": {"aff-new": {"name": "New"}}}))
    settings = Settings()
    assert settings.catalogue_path == data_dir / "catalogue.json"
    main(add("pb-1", "aff-new"))
    assert "pb-1: enabled" in capsys.readouterr().err


def test_an_id_in_use_is_not_overwritten_unless_replace_says_so(data_dir, capsys) -> None:
    main(add("pb-1", "aff-1", "--sign"))
    secret = capsys.readouterr().out.strip()
    before = json.loads((data_dir / "endpoints.json").read_text())["pb-1"]
    assert before["secret"] == secret
    err = refused(add("pb-1", "aff-2"), capsys)
    assert "pb-1: a postback endpoint with this id exists" in err and "--replace" in err
    assert json.loads((data_dir / "endpoints.json").read_text())["pb-1"] == before
    main(add("pb-1", "aff-2", "--replace"))
    assert json.loads((data_dir / "endpoints.json").read_text())["pb-1"]["affiliate_id"] == "aff-2"


def test_presets_shows_the_events_add_subscribes(data_dir, capsys) -> None:
    main(["postbacks", "presets", "--format", "json"])
    shown = {r["preset"]: r["default_events"] for r in json.loads(capsys.readouterr().out)}
    needs = {"everflow": ["--param", "nid=1"], "cake": ["--param", "offer=1"],
             "tune": ["--param", "offer_id=1"]}
    for name in PRESETS:
        main(["postbacks", "add", f"pb-{name}", "--affiliate", "aff-1", "--preset", name,
              "--base-url", "https://t.partner.invalid/pb", *needs.get(name, [])])
        stored = json.loads((data_dir / "endpoints.json").read_text())[f"pb-{name}"]
        assert stored["events"] == shown[name], name
    main(["postbacks", "presets"])
    text = capsys.readouterr().out
    assert "keitaro" in text and "default events registration,ftd,chargeback" in text
    assert "default events registration,ftd\n" in text  # redtrack: a reversal needs its setting first


def test_an_operator_key_is_an_operator_key(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "svc", pseudonym_key="unit-test-key")
    ctx = IngressContext.from_settings(settings)
    _, operator = ctx.keys.create("operator", brand_id="brand-a")
    with TestClient(create_service(settings, ctx)) as client:
        got = client.get("/v1/admin/endpoints", headers={"Authorization": f"Bearer {operator}"})
    assert got.status_code == 403
    assert got.json()["detail"].startswith("an operator key cannot use this")
