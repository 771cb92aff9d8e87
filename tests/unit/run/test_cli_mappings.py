"""`clickpath mappings`: the configured source mappings as a table or JSON; exit 2 with every
problem when a mapping is invalid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clickpath.run.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "deploy" / "mappings"


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CLICKPATH_CONFIG", "CLICKPATH_MAPPINGS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(tmp_path / "cp"))
    monkeypatch.setenv("CLICKPATH_MAPPINGS_FILE", str(EXAMPLES))


def test_table_lists_each_source_with_its_operations(capsys) -> None:
    main(["mappings"])
    out = capsys.readouterr().out
    assert out.startswith(f"2 source mappings (from {EXAMPLES})")
    for line in ("\nacme-crm\n", "  unknown fields: keep", "  rename: BTag -> tracking_code",
                 "  values of event_type: signup -> registration, dep -> deposit",
                 "  [chargeback] derive: chargeback_id = 'cb-{transaction_id}' (when absent)",
                 "\nreelhouse-feed\n", "  unknown fields: reject", "  drop: provider, psp",
                 "  [wager] rename: round_id -> wager_id", "  [wager] default: bonus_stake = '0'",
                 "  [wager] values of game_category: slots -> casino"):
        assert line in out


def test_json(capsys) -> None:
    main(["mappings", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["source"] for r in rows] == ["acme-crm", "reelhouse-feed"]
    assert rows[1]["types"]["wager"]["rename"]["round_id"] == "wager_id"
    assert rows[0]["unknown"] == "keep" and rows[0]["drop"] == ["AgentNote"]


def test_none_configured(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLICKPATH_MAPPINGS_FILE")
    main(["mappings"])
    assert capsys.readouterr().out.startswith("no source mappings")


def test_an_invalid_file_exits_2_naming_every_problem(tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[mappings.crm]\nrename = { btag = "tracking_cod" }\n'
                    '[mappings.crm.types.wager]\ndefaults = { currency = "EURO" }\n')
    monkeypatch.setenv("CLICKPATH_MAPPINGS_FILE", str(path))
    with pytest.raises(SystemExit) as exit_:
        main(["mappings"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("clickpath: invalid settings:")
    assert "mappings.crm.rename.btag: 'tracking_cod' is not a field of any event type" in err
    assert "mappings.crm.types.wager.defaults.currency: 'EURO' is not a valid currency" in err
