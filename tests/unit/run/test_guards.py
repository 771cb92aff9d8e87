"""`up`, `api`, `worker` and `sink` refuse the shipped or a missing pseudonym key, and audit key
(the master key: test_master_key_guard.py), unless they run the demo; other commands are not
affected (issue 13, High 3; issue 26)."""

from __future__ import annotations

import pytest

from clickpath.run.cli import main
from clickpath.run.errors import CommandError
from clickpath.run.guards import require_own_audit_key, require_own_keys, require_own_pseudonym_key
from clickpath.run.up import UpOptions, _roles
from clickpath.settings import DEV_AUDIT_KEY, DEV_PSEUDONYM_KEY, Settings


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch: pytest.MonkeyPatch):
    for var in ("CLICKPATH_PSEUDONYM_KEY", "CLICKPATH_MASTER_KEY", "CLICKPATH_AUDIT_KEY",
                "CLICKPATH_DEMO", "CLICKPATH_CONFIG", "CLICKPATH_AFFILIATES", "CLICKPATH_EGRESS_ALLOW"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(tmp_path / "cp"))


@pytest.mark.parametrize("argv", [["up"], ["api"], ["worker"], ["sink", "clickhouse"],
                                  ["sink", "postbacks"]])
@pytest.mark.parametrize("key", [None, DEV_PSEUDONYM_KEY, "change-me-in-production", "  "])
def test_the_pipeline_commands_refuse_a_shipped_or_missing_key(argv, key, monkeypatch, capsys) -> None:
    if key is not None:
        monkeypatch.setenv("CLICKPATH_PSEUDONYM_KEY", key)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "CLICKPATH_PSEUDONYM_KEY" in err and err.count("\n") == 1


def test_the_demo_and_a_key_of_ones_own_pass() -> None:
    shipped = Settings()
    require_own_pseudonym_key(shipped, "up", demo=True)  # clickpath up --demo
    require_own_pseudonym_key(shipped.with_overrides(demo=True), "api")  # its roles
    require_own_pseudonym_key(Settings(pseudonym_key="a-secret-of-our-own-of-32-bytes!"), "worker")
    with pytest.raises(CommandError):
        require_own_pseudonym_key(shipped, "sink")


def test_up_demo_tells_its_roles_they_run_the_demo(tmp_path) -> None:
    env: dict[str, str] = {}
    _roles(Settings(data_dir=tmp_path), UpOptions(demo=True), env, tmp_path)
    assert env["CLICKPATH_DEMO"] == "true"
    assert Settings(**{"demo": env["CLICKPATH_DEMO"]}).demo is True
    plain: dict[str, str] = {}
    _roles(Settings(data_dir=tmp_path), UpOptions(demo=False), plain, tmp_path)
    assert "CLICKPATH_DEMO" not in plain


def test_other_commands_are_not_affected(capsys) -> None:
    main(["links", "--format", "json"])
    assert capsys.readouterr().out.strip().startswith("[")


@pytest.mark.parametrize("command", ["up", "api", "worker", "sink"])
@pytest.mark.parametrize("key", ["x", "a-secret-of-our-own", "31-bytes-of-a-key-that-is-short"])
def test_a_key_of_ones_own_under_32_bytes_is_refused(command, key, monkeypatch) -> None:
    """Issue 21 item 26: any never-shipped key was accepted, down to one character. (The guard
    itself, not `main`: on a key it wrongly passed, `main` would start the pipeline.)"""
    assert len(key.encode()) < 32
    monkeypatch.setenv("CLICKPATH_PSEUDONYM_KEY", key)
    with pytest.raises(CommandError) as refused:
        require_own_pseudonym_key(Settings(), command)
    assert "CLICKPATH_PSEUDONYM_KEY" in str(refused.value) and "32 bytes" in str(refused.value)


def test_a_short_key_is_refused_in_the_demo_too_but_the_shipped_one_is_not() -> None:
    short = Settings(pseudonym_key="short-own-key")
    with pytest.raises(CommandError, match="CLICKPATH_PSEUDONYM_KEY"):
        require_own_pseudonym_key(short, "up", demo=True)
    require_own_pseudonym_key(Settings(demo=True), "api")  # the shipped key, in the demo
    require_own_pseudonym_key(Settings(pseudonym_key="k" * 32), "worker")


@pytest.mark.parametrize("argv", [["up"], ["api"], ["worker"], ["sink", "clickhouse"]])
@pytest.mark.parametrize("key", [None, DEV_AUDIT_KEY, "  "])
def test_the_pipeline_commands_refuse_a_shipped_or_missing_audit_key(argv, key, monkeypatch,
                                                                     capsys) -> None:
    """Issue 26 item 4: a shipped audit key lets anyone sign a rewritten audit chain."""
    monkeypatch.setenv("CLICKPATH_PSEUDONYM_KEY", "a-secret-of-our-own-of-32-bytes!")
    monkeypatch.setenv("CLICKPATH_MASTER_KEY", "a-master-key-of-our-own-of-32-bytes!")
    if key is not None:
        monkeypatch.setenv("CLICKPATH_AUDIT_KEY", key)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "CLICKPATH_AUDIT_KEY" in err and err.count("\n") == 1


def test_the_audit_key_passes_in_the_demo_and_of_ones_own_and_a_short_one_never() -> None:
    own = "p" * 32
    master = "m" * 32
    require_own_audit_key(Settings(), "up", demo=True)
    require_own_audit_key(Settings(demo=True), "api")
    require_own_audit_key(Settings(audit_key="a" * 32), "worker")
    require_own_keys(Settings(pseudonym_key=own, master_key=master, audit_key="a" * 32), "sink")
    with pytest.raises(CommandError, match="32 bytes"):
        require_own_audit_key(Settings(audit_key="short-audit-key"), "up", demo=True)
    with pytest.raises(CommandError, match="CLICKPATH_AUDIT_KEY"):
        require_own_keys(Settings(pseudonym_key=own, master_key=master), "api")


def test_a_command_aimed_at_a_running_demo_may_record_with_its_key(tmp_path) -> None:
    from clickpath.run.instances import Running, pointed_at
    from clickpath.run.state import UpState

    def running(demo: bool) -> Running:
        return Running(UpState(pid=1, state="running", broker=None, service_url="http://127.0.0.1:8000",
                               data_dir=str(tmp_path), started_at="", updated_at="", demo=demo))

    assert pointed_at(Settings(), running(True)).demo is True
    require_own_audit_key(pointed_at(Settings(), running(True)), "keys create")
    with pytest.raises(CommandError, match="CLICKPATH_AUDIT_KEY"):
        require_own_audit_key(pointed_at(Settings(), running(False)), "keys create")
