"""What `up` does around the broker journal before any role starts (clickpath/run/up_journal.py):
the order of the clean-stop marker and the keeper, and the refusals that must be CommandErrors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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


def begun(tmp_path) -> tuple[Settings, JournalDir, Path]:
    """A data dir as `up` leaves it: a journal begun and ClickHouse's dir given its id."""
    settings = Settings(data_dir=tmp_path)
    clickhouse = up_journal.embedded_clickhouse(settings)
    assert clickhouse is not None
    journal = up_journal.check_journal(settings, tmp_path)
    journal.begin("2026-01-01T00:00:00")
    up_journal.tie_clickhouse(journal, clickhouse)
    (clickhouse / "metadata").mkdir()  # what chdb writes once the sink ran
    return settings, journal, clickhouse


def test_a_journal_and_its_clickhouse_carry_the_same_id(tmp_path) -> None:
    settings, journal, clickhouse = begun(tmp_path)
    journal_id = journal.journal_id()
    assert journal_id and (clickhouse / up_journal.MARKER).read_text().strip() == journal_id
    assert up_journal.check_journal(settings, tmp_path).journal_id() == journal_id


def test_clickhouse_removed_while_the_journal_was_kept_is_refused(tmp_path) -> None:
    settings, journal, clickhouse = begun(tmp_path)
    shutil.rmtree(clickhouse)  # rm -r .clickpath/clickhouse
    up_journal.check_journal(settings, tmp_path)  # no offsets kept: the sink writes it all again
    journal.write_offsets("2026-01-01T00:00:01", {"sink": {("events", 0): 3}})
    with pytest.raises(CommandError, match=r"is gone or empty while the broker journal .* was"
                       r" kept.*To start afresh"):
        up_journal.check_journal(settings, tmp_path)


def test_a_journal_from_another_clickhouse_is_refused(tmp_path) -> None:
    settings, _, _ = begun(tmp_path / "a")
    _, other, _ = begun(tmp_path / "b")
    shutil.rmtree(tmp_path / "a" / "broker")
    shutil.copytree(other.root, tmp_path / "a" / "broker")
    with pytest.raises(CommandError, match=r"come from different runs"):
        up_journal.check_journal(settings, tmp_path / "a")


def test_clickhouse_data_without_the_id_next_to_a_journal_with_one_is_refused(tmp_path) -> None:
    settings, _, clickhouse = begun(tmp_path)
    (clickhouse / up_journal.MARKER).unlink()
    with pytest.raises(CommandError, match=rf"has no {up_journal.MARKER}"):
        up_journal.check_journal(settings, tmp_path)


def test_a_journal_from_before_the_ids_is_given_one_with_its_clickhouse(tmp_path) -> None:
    settings, journal, clickhouse = begun(tmp_path)
    meta = json.loads(journal.meta.read_text())
    del meta["journal_id"]
    journal.meta.write_text(json.dumps(meta))
    (clickhouse / up_journal.MARKER).unlink()
    up_journal.check_journal(settings, tmp_path)  # neither has one: accepted
    up_journal.tie_clickhouse(journal, clickhouse)
    assert journal.journal_id() == (clickhouse / up_journal.MARKER).read_text().strip()


def test_a_clickhouse_server_has_no_marker(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, clickhouse_url="http://127.0.0.1:8123")
    assert up_journal.embedded_clickhouse(settings) is None
