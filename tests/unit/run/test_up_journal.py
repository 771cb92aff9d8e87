"""What `up` does around the broker journal before any role starts (clickpath/run/up_journal.py):
the order of the clean-stop marker and the keeper, and the refusals that must be CommandErrors."""

from __future__ import annotations

import json

import pytest

from clickpath.contracts.topics import SPECS
from clickpath.infra.broker_journal import JournalDir
from clickpath.run import up_journal
from clickpath.run.errors import CommandError
from clickpath.settings import Settings


def test_the_clean_stop_marker_is_gone_and_synced_before_the_keeper_starts(tmp_path,
                                                                           monkeypatch) -> None:
    journal = JournalDir(tmp_path / "broker")
    journal.begin("2026-01-01T00:00:00")
    journal.clean_stop.write_text(json.dumps({"records": 0}))
    seen: list[str] = []
    monkeypatch.setattr(up_journal, "sync_dir", lambda path: seen.append(f"sync {path.name}"))

    class Keeper:
        def __init__(self, journal_, bootstrap, held) -> None:
            pass

        def start(self) -> Keeper:
            seen.append(f"start, marker there: {journal.clean_stop.exists()}")
            return self

    monkeypatch.setattr(up_journal, "JournalKeeper", Keeper)
    up_journal.start_keeper(journal, "127.0.0.1:1", {})
    assert seen == ["sync broker", "start, marker there: False"]


def test_sync_dir_runs_on_a_real_directory(tmp_path) -> None:
    up_journal.sync_dir(tmp_path)


def test_a_partition_count_other_than_the_journals_is_refused_before_the_broker_starts(
        tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, partitions=4)
    events = SPECS[next(iter(SPECS))].name(settings)
    journal = up_journal.journal_dir(tmp_path)
    journal.begin("2026-01-01T00:00:00")
    journal.topics_file.write_text(json.dumps({events: 4, "app-changelog": 8}))
    assert up_journal.check_journal(settings, tmp_path).root == journal.root  # changelogs are Faust's
    with pytest.raises(CommandError, match=rf"{events} has 4\).*To start afresh, remove"):
        up_journal.check_journal(Settings(data_dir=tmp_path, partitions=2), tmp_path)
