"""The CLI's own changes are in the audit trail as `cli:<os user>` from `cli@<host>`, without a
secret (issue 26 item 4): postbacks add, disable and rotate-secret, plans add; and a refused
change (an unknown affiliate) records nothing."""

from __future__ import annotations

import json

import pytest

from clickpath.infra.audit import cli_actor, cli_origin
from clickpath.run.cli import main

URL = "https://aff.partner.invalid/pb?c={click_id}&token=partner-token"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    for var in ("CLICKPATH_EGRESS_ALLOW", "CLICKPATH_CONFIG", "CLICKPATH_ENDPOINTS", "CLICKPATH_DEMO"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(tmp_path / "cp"))
    monkeypatch.setenv("CLICKPATH_INSTANCES_DIR", str(tmp_path / "instances"))
    monkeypatch.setenv("CLICKPATH_AUDIT_KEY", "unit-test-audit-key-of-at-least-32-bytes")
    monkeypatch.setenv("CLICKPATH_AFFILIATES", '{"aff-1": {"name": "One"}}')
    return tmp_path / "cp"


def listed(capsys, *filters: str) -> list[dict]:
    capsys.readouterr()
    main(["audit", "list", "--format", "json", *filters])
    return json.loads(capsys.readouterr().out)


def test_endpoint_changes_and_a_plan_version_are_recorded(data_dir, tmp_path, capsys) -> None:
    main(["postbacks", "add", "pb-1", "--affiliate", "aff-1", "--url", URL, "--events", "ftd", "--sign"])
    secret = capsys.readouterr().out.strip()
    main(["postbacks", "rotate-secret", "pb-1"])
    rotated = capsys.readouterr().out.strip()
    main(["postbacks", "disable", "pb-1", "--reason", "partner asked"])
    with pytest.raises(SystemExit):
        main(["postbacks", "add", "pb-2", "--affiliate", "aff-9", "--url", URL, "--events", "ftd"])
    version = tmp_path / "v.toml"
    version.write_text('effective_from = "2026-12-01"\ncurrency = "EUR"\n[cpa]\namount = "50.00"\n'
                       '[[assign]]\naffiliate = "aff-1"\n')
    main(["plans", "add", "std", "--file", str(version)])
    entries = listed(capsys)
    assert [(e["kind"], e["subject"], e["detail"].get("action")) for e in entries] == [
        ("endpoint.changed", "endpoint:pb-1", "put"),
        ("endpoint.changed", "endpoint:pb-1", "rotate_secret"),
        ("endpoint.changed", "endpoint:pb-1", "disable"),
        ("plan.version_added", "plan:std", None),
    ]
    assert {(e["actor"], e["origin"]) for e in entries} == {(cli_actor(), cli_origin())}
    text = (data_dir / "audit" / "chain.jsonl").read_text()
    for never in (secret, rotated, "partner-token"):
        assert never not in text
    assert [e["seq"] for e in listed(capsys, "--kind", "endpoint.", "--limit", "1")] == [3]
    main(["audit", "verify"])
    assert capsys.readouterr().out.startswith("OK: 4 audit entries")
