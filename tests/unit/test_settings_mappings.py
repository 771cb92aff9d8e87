"""Source mappings in the settings: inline `[mappings.<source>]` tables of CLICKPATH_CONFIG, a
CLICKPATH_MAPPINGS_FILE (a file or a folder), checked at start, handed to child processes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from clickpath.settings import Settings

CRM = """
[mappings.crm]
unknown = "keep"
rename = { PlayerID = "player_id" }
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CLICKPATH_CONFIG", "CLICKPATH_MAPPINGS", "CLICKPATH_MAPPINGS_FILE"):
        monkeypatch.delenv(var, raising=False)


def test_inline_tables_of_the_config_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "clickpath.toml"
    config.write_text(CRM)
    monkeypatch.setenv("CLICKPATH_CONFIG", str(config))
    mappings = Settings().source_mappings
    assert mappings["crm"].rename == {"PlayerID": "player_id"} and mappings["crm"].unknown == "keep"


def test_a_mappings_file_and_a_folder_of_them(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "crm.toml").write_text(CRM)
    (tmp_path / "feed.toml").write_text('[mappings.feed]\nrename = { ts = "occurred_at" }\n')
    (tmp_path / "notes.txt").write_text("not a mapping")
    monkeypatch.setenv("CLICKPATH_MAPPINGS_FILE", str(tmp_path / "crm.toml"))
    assert set(Settings().source_mappings) == {"crm"}
    monkeypatch.setenv("CLICKPATH_MAPPINGS_FILE", str(tmp_path))
    assert set(Settings().source_mappings) == {"crm", "feed"}


@pytest.mark.parametrize(("text", "expected"), [
    ('[mappings.crm]\nrename = { PlayerID = "playerid" }\n',
     "mappings.crm.rename.PlayerID: 'playerid' is not a field of any event type"),
    ("[mappings.crm\n", "not valid TOML"),
    ('partitions = 4\n[mappings.crm]\nunknown = "keep"\n', "only [mappings.<source>] tables belong here"),
])
def test_an_invalid_mappings_file_stops_the_start(tmp_path, text: str, expected: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(ValidationError) as e:
        Settings(mappings_file=path)
    assert expected in str(e.value) and str(path) in str(e.value)


def test_a_missing_file_and_a_source_mapped_twice(tmp_path) -> None:
    with pytest.raises(ValidationError, match="cannot be read"):
        Settings(mappings_file=tmp_path / "absent.toml")
    (tmp_path / "a.toml").write_text(CRM)
    (tmp_path / "b.toml").write_text(CRM)
    with pytest.raises(ValidationError, match="'crm' is mapped twice"):
        Settings(mappings_file=tmp_path)
    with pytest.raises(ValidationError, match="'crm' is mapped twice"):
        Settings(mappings_file=tmp_path / "a.toml", mappings={"crm": {}})


def test_an_invalid_inline_mapping_stops_the_start() -> None:
    with pytest.raises(ValidationError, match="mappings.crm.values.game_category.slots: 'casinoo'"):
        Settings(mappings={"crm": {"values": {"game_category": {"slots": "casinoo"}}}})


def test_child_processes_get_the_same_mappings(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "crm.toml").write_text(CRM)
    parent = Settings(mappings={"inline": {"defaults": {"currency": "EUR"}}}, mappings_file=tmp_path)
    for name, value in parent.to_env().items():
        monkeypatch.setenv(name, value)
    assert Settings().source_mappings == parent.source_mappings
    assert set(parent.source_mappings) == {"inline", "crm"}


def test_a_copy_with_another_file_reads_that_file(tmp_path) -> None:
    (tmp_path / "crm.toml").write_text(CRM)
    copy = Settings().with_overrides(mappings_file=tmp_path / "crm.toml")
    assert set(copy.source_mappings) == {"crm"}
