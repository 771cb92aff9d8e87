"""One `up` per data directory: the lock refuses a second holder, names the first, and a holder
that is gone (closed, or a killed process) leaves nothing stale behind."""

from __future__ import annotations

import os

import pytest

from clickpath.infra.dirlock import DataDirInUse, DataDirLock


def test_a_second_lock_on_the_same_dir_is_refused_naming_the_holder(tmp_path) -> None:
    data_dir = tmp_path / "cp"
    with DataDirLock(data_dir):
        assert (data_dir / "up.lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(DataDirInUse) as refused:
            DataDirLock(data_dir).acquire()  # a second open file description: flock refuses
    assert refused.value.pid == os.getpid()
    assert str(refused.value) == (
        f"{data_dir} is in use by clickpath up (pid {os.getpid()}); stop it, or set"
        " CLICKPATH_DATA_DIR to another directory"
    )


def test_a_released_lock_or_a_stale_pid_file_does_not_block(tmp_path) -> None:
    data_dir = tmp_path / "cp"
    DataDirLock(data_dir).acquire().release()
    (data_dir / "up.lock").write_text("999999\n")  # what a killed `up` leaves: a pid, no lock
    lock = DataDirLock(data_dir).acquire()
    try:
        assert (data_dir / "up.lock").read_text() == f"{os.getpid()}\n"
    finally:
        lock.release()


def test_the_lock_file_is_not_followed_through_a_symlink(tmp_path) -> None:
    data_dir = tmp_path / "cp"
    data_dir.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (data_dir / "up.lock").symlink_to(victim)
    with pytest.raises(OSError):
        DataDirLock(data_dir).acquire()
    assert victim.read_text() == "keep me"
