"""`up`, `api`, `worker` and `sink` refuse a shipped, missing or short master key (it wraps every
person's data key) unless they run the demo, exactly as they treat the pseudonym key."""

from __future__ import annotations

import pytest

from clickpath.run.cli import main
from clickpath.run.errors import CommandError
from clickpath.run.guards import require_own_keys, require_own_master_key
from clickpath.settings import DEV_MASTER_KEY, Settings

OWN_PSEUDONYM_KEY = "a-pseudonym-key-of-our-own-32-bytes!"


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch: pytest.MonkeyPatch):
    for var in ("CLICKPATH_MASTER_KEY", "CLICKPATH_DEMO", "CLICKPATH_CONFIG",
                "CLICKPATH_AFFILIATES", "CLICKPATH_EGRESS_ALLOW"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLICKPATH_PSEUDONYM_KEY", OWN_PSEUDONYM_KEY)
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(tmp_path / "cp"))


@pytest.mark.parametrize("argv", [["up"], ["api"], ["worker"], ["sink", "clickhouse"],
                                  ["sink", "postbacks"]])
@pytest.mark.parametrize("key", [None, DEV_MASTER_KEY, "  "])
def test_the_pipeline_commands_refuse_a_shipped_or_missing_master_key(argv, key, monkeypatch, capsys) -> None:
    if key is not None:
        monkeypatch.setenv("CLICKPATH_MASTER_KEY", key)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "CLICKPATH_MASTER_KEY" in err and "CLICKPATH_PSEUDONYM_KEY" not in err


@pytest.mark.parametrize("key", ["x", "31-bytes-of-a-key-that-is-short"])
def test_a_short_master_key_is_refused_in_the_demo_too(key) -> None:
    short = Settings(master_key=key)
    with pytest.raises(CommandError, match="CLICKPATH_MASTER_KEY") as refused:
        require_own_master_key(short, "up", demo=True)
    assert "32 bytes" in str(refused.value)


def test_the_demo_and_a_master_key_of_ones_own_pass() -> None:
    shipped = Settings()
    require_own_keys(shipped, "up", demo=True)  # clickpath up --demo: both shipped keys
    require_own_keys(shipped.with_overrides(demo=True), "api")  # its roles
    require_own_master_key(Settings(master_key="m" * 32), "worker")
    with pytest.raises(CommandError, match="CLICKPATH_MASTER_KEY"):
        require_own_keys(Settings(), "sink")  # own pseudonym key (from the env), shipped master key
