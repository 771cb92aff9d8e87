"""The lag the agents publish: records between what they processed and the partition's end."""

from __future__ import annotations

from clickpath.streams.lag import partition_lag

EVENTS, ATTRIBUTIONS = ("clickpath.events", 0), ("clickpath.attributions", 1)


def test_lag_counts_records_past_the_committed_offset_of_each_partition() -> None:
    assert partition_lag({EVENTS: 120, ATTRIBUTIONS: 7}, {EVENTS: 100, ATTRIBUTIONS: 7}, {}) == 20


def test_records_processed_since_the_last_commit_are_not_lag() -> None:
    # Faust commits every few seconds; the agent reports what it handled meanwhile.
    assert partition_lag({EVENTS: 120}, {EVENTS: 100}, {EVENTS: 120}) == 0
    assert partition_lag({EVENTS: 120}, {EVENTS: 100}, {EVENTS: 110}) == 10
    # After a re-seek to the commit, an older handled position does not hide the commit.
    assert partition_lag({EVENTS: 120}, {EVENTS: 115}, {EVENTS: 110}) == 5


def test_a_partition_never_committed_is_behind_by_all_its_records() -> None:
    assert partition_lag({EVENTS: 30}, {EVENTS: None}, {}) == 30
    assert partition_lag({EVENTS: 30}, {}, {}) == 30


def test_a_partition_with_no_high_watermark_yet_counts_nothing_until_a_fetch_answers() -> None:
    assert partition_lag({EVENTS: None, ATTRIBUTIONS: 9}, {}, {}) == 9
    assert partition_lag({EVENTS: -1}, {}, {}) == 0
