"""The atomic write every small state file goes through (clickpath/infra/jsonstore.py)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from clickpath.infra import jsonstore
from clickpath.infra.jsonstore import WatchedJsonFile, write_atomic, write_json_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_the_old_content_stays_until_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    seen: list[tuple[str, str]] = []
    replace = os.replace

    def watching(src: str | Path, dst: str | Path) -> None:
        seen.append((Path(src).read_text(), Path(dst).read_text()))
        assert Path(src).parent == target.parent  # a rename in the same directory
        replace(src, dst)

    monkeypatch.setattr(jsonstore.os, "replace", watching)
    write_atomic(target, "new")
    assert seen == [("new", "old")]


def test_mode_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "secret", "s3cret\n")  # the default: this user only
        write_atomic(tmp_path / "group", "x", mode=0o640)
        write_atomic(tmp_path / "plain", "x", mode=None)  # as open() would make it
    finally:
        os.umask(old)
    assert _mode(tmp_path / "secret") == 0o600
    assert _mode(tmp_path / "group") == 0o640
    assert _mode(tmp_path / "plain") == 0o644


def test_replacing_a_readable_file_keeps_the_secret_private(tmp_path: Path) -> None:
    target = tmp_path / "key"
    target.write_text("old")
    target.chmod(0o644)
    write_atomic(target, "new", mode=0o600)
    assert _mode(target) == 0o600


def test_on_error_the_old_file_stays_and_no_temporary_file_is_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state.json"
    target.write_text('{"old": 1}')

    def failing(src: str | Path, dst: str | Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(jsonstore.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(target, {"new": 2})
    assert target.read_text() == '{"old": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_data_json_cannot_encode_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    with pytest.raises(TypeError):
        write_json_atomic(target, {"x": object()})
    assert list(tmp_path.iterdir()) == []


def test_fsync_flushes_the_file_and_its_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    fsync = os.fsync

    def recording(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        fsync(fd)

    monkeypatch.setattr(jsonstore.os, "fsync", recording)
    write_atomic(tmp_path / "a", "x")
    assert synced == []
    write_atomic(tmp_path / "b", "x", fsync=True)
    assert synced == ["file", "dir"]


def test_two_writers_use_different_temporary_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names: list[str] = []
    replace = os.replace

    def recording(src: str | Path, dst: str | Path) -> None:
        names.append(Path(src).name)
        replace(src, dst)

    monkeypatch.setattr(jsonstore.os, "replace", recording)
    write_atomic(tmp_path / "entry.json", "1")
    write_atomic(tmp_path / "entry.json", "2")
    assert len(set(names)) == 2
    assert all(n.startswith(".entry.json.") and not n.endswith(".json") for n in names)


def test_json_as_json_dumps_writes_it(tmp_path: Path) -> None:
    data = {"a": [1, 2], "b": "c"}
    write_json_atomic(tmp_path / "compact.json", data)
    write_json_atomic(tmp_path / "indented.json", data, indent=1)
    assert (tmp_path / "compact.json").read_text() == json.dumps(data)
    assert (tmp_path / "indented.json").read_text() == json.dumps(data, indent=1)


def test_watched_file_edit_still_lands_atomically_and_private(tmp_path: Path) -> None:
    store = WatchedJsonFile(tmp_path / "keys.json", empty=[])
    with store.edit() as data:
        data.append({"id": 1})
    assert store.read() == [{"id": 1}]
    assert _mode(tmp_path / "keys.json") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json", "keys.json.lock"]
