"""Presets in the CLI, the admin API and configuration files (issue 16): one line per partner,
`postbacks test` and `postbacks presets` with nothing running, and a wrong override refused with
its name everywhere (exit 2, a 422, a validation error)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.run.cli import main
from clickpath.settings import Settings


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    for var in ("CLICKPATH_EGRESS_ALLOW", "CLICKPATH_CONFIG", "CLICKPATH_AFFILIATES", "CLICKPATH_ENDPOINTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(tmp_path / "cp"))
    monkeypatch.setenv("CLICKPATH_AUDIT_KEY", "unit-test-audit-key-of-at-least-32-bytes")  # recorded
    monkeypatch.setenv("CLICKPATH_AFFILIATES", '{"aff-1": {"name": "One"}}')  # `add` knows it
    return tmp_path / "cp"


def add(*extra: str) -> list[str]:
    return [
        "postbacks",
        "add",
        "aff-1-kt",
        "--affiliate",
        "aff-1",
        "--preset",
        "keitaro",
        "--base-url",
        "https://tracker.partner.invalid/k3y/postback",
        *extra,
    ]


def test_one_line_adds_a_keitaro_partner_and_test_shows_its_requests(data_dir, capsys) -> None:
    main(add("--events", "registration,ftd,chargeback", "--param", "click_id_from=sub1"))
    assert "aff-1-kt: enabled" in capsys.readouterr().err
    stored = json.loads((data_dir / "endpoints.json").read_text())["aff-1-kt"]
    assert (stored["preset"], stored["params"]) == ("keitaro", {"click_id_from": "sub1"})
    main(["postbacks", "test", "aff-1-kt"])  # an FTD by default
    assert capsys.readouterr().out == (
        "GET https://tracker.partner.invalid/k3y/postback?subid=sample-click-id&payout=50.00"
        "&currency=EUR&tid=sample-txn-1&status=sale\n"
    )
    main(["postbacks", "test", "aff-1-kt", "--event", "chargeback"])
    assert "&status=rejected" in capsys.readouterr().out
    main(["postbacks", "test", "aff-1-kt", "--event", "registration"])
    assert capsys.readouterr().out.endswith("postback?subid=sample-click-id&status=lead\n")
    main(["postbacks", "list"])
    assert "preset keitaro click_id_from=sub1" in capsys.readouterr().out


def test_events_are_optional_with_a_preset(data_dir, capsys) -> None:
    main(add())
    assert json.loads((data_dir / "endpoints.json").read_text())["aff-1-kt"]["events"] == [
        "registration",
        "ftd",
        "chargeback",
    ]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--param", "goal_ftd=3"], "params.goal_ftd: keitaro takes no 'goal_ftd'"),
        (["--param", "status_ftd=paid"], "params.status_ftd: 'paid' is not one of keitaro's statuses"),
        (["--param", "oops"], "--param 'oops': expected NAME=VALUE"),
        (["--url", "https://x/?c={click_id}"], "--preset needs --base-url (not --url)"),
    ],
)
def test_a_wrong_override_exits_2_naming_it(extra, named, data_dir, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(add(*extra))
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err
    assert not (data_dir / "endpoints.json").exists()


def test_test_refuses_what_the_preset_cannot_send(capsys) -> None:
    main(
        [
            "postbacks",
            "add",
            "ef",
            "--affiliate",
            "aff-1",
            "--preset",
            "everflow",
            "--base-url",
            "https://t.partner.invalid/",
            "--param",
            "nid=42",
        ]
    )
    for event, named in (
        ("chargeback", "everflow takes no status change"),
        ("deposit", "params.goal_deposit"),
        ("bogus", "event: unknown 'bogus'"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["postbacks", "test", "ef", "--event", event])
        assert exit_.value.code == 2 and named in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["postbacks", "test", "nope"])
    assert "no postback endpoint 'nope'" in capsys.readouterr().err


def test_presets_lists_every_preset_and_its_parameters(capsys) -> None:
    main(["postbacks", "presets", "--format", "json"])
    rows = {r["preset"]: r for r in json.loads(capsys.readouterr().out)}
    assert len(rows) == 10
    assert rows["affise"]["parameters"] == {"sum": "{amount}", "action_id": "{transaction_id}"}
    assert rows["affise"]["statuses"]["chargeback"] == "3" and rows["everflow"]["reversal"] is False
    main(["postbacks", "presets"])
    out = capsys.readouterr().out
    assert "--param goal_ftd=..." in out and "scaleo" in out


def test_configuration_files_take_presets_and_refuse_a_wrong_override(tmp_path, monkeypatch) -> None:
    config = tmp_path / "clickpath.toml"
    config.write_text(
        '[[endpoints]]\nendpoint_id = "aff-1-af"\naffiliate_id = "aff-1"\npreset = "affise"\n'
        'url = "https://offers.partner.invalid/postback"\nparams = { goal_ftd = "2" }\n'
    )
    monkeypatch.setenv("CLICKPATH_CONFIG", str(config))
    store = EndpointStore.from_settings(Settings())
    assert store.for_postback("aff-1", "ftd")[0].template_for("ftd").endswith("goal=2&status=1")
    config.write_text(config.read_text().replace("goal_ftd", "goal_fdt"))
    with pytest.raises(ValueError, match="params.goal_fdt: affise takes no 'goal_fdt'"):
        Settings()


def test_the_admin_api_takes_presets_and_names_a_wrong_override(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "svc", pseudonym_key="unit-test-key")
    ctx = IngressContext.from_settings(settings)
    _, secret = ctx.keys.create("admin")
    auth = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_service(settings, ctx)) as client:
        ok = client.put(
            "/v1/admin/endpoints/aff-1-rt",
            headers=auth,
            json={
                "affiliate_id": "aff-1",
                "preset": "redtrack",
                "base_url": "https://rt.partner.invalid/postback",
                "params": {"goal_ftd": "FirstDeposit"},
                "events": ["ftd", "chargeback"],
            },
        )
        bad = client.put(
            "/v1/admin/endpoints/aff-1-rt2",
            headers=auth,
            json={
                "affiliate_id": "aff-1",
                "preset": "redtrack",
                "base_url": "https://rt.partner.invalid/postback",
                "params": {"status_chargeback": "declined"},
            },
        )
        listed = client.get("/v1/admin/endpoints/presets", headers=auth)
    assert ok.status_code == 200, ok.text
    assert (ok.json()["preset"], ok.json()["events"]) == ("redtrack", ["ftd", "chargeback"])
    assert bad.status_code == 422
    assert "params.status_chargeback: 'declined' is not one of redtrack's statuses" in bad.json()["detail"]
    assert listed.status_code == 200 and len(listed.json()) == 10
