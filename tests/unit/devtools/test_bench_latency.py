"""The bench's latency is measured from when each event was produced, so it is never negative,
whatever event times the load generator wrote; and its CPU figure sums whole process trees."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from clickpath.devtools.bench.latency import latencies_ms, postback_produced_at, produced_at
from clickpath.devtools.bench.phases import stat_cpu_ticks, tree_cpu_seconds
from clickpath.devtools.loadgen import LoadGenerator

T0 = 1_790_000_000.0  # an epoch second


def test_an_output_is_produced_when_the_last_input_it_needs_was_sent() -> None:
    sent = {"click": T0, "reg": T0 + 0.010, "dep1": T0 + 0.030, "dep2": T0 + 0.020}
    needs = (frozenset({"click"}), frozenset({"reg"}), frozenset({"dep1", "dep2"}))
    # any deposit of the group may be the first one processed: the earliest sent counts
    assert produced_at(sent, needs) == T0 + 0.020
    assert produced_at(sent, (frozenset({"click"}), frozenset({"never-sent"}))) is None


def test_latency_is_the_first_arrival_after_the_send_in_whole_milliseconds() -> None:
    produced = {"a": T0 + 0.0004, "b": T0 + 0.5}
    arrived = [("a", T0 + 0.0125), ("b", T0 + 0.75), ("a", T0 + 0.9), ("warm-up", T0)]
    assert sorted(latencies_ms(produced, arrived)) == [12.0, 250.0]


def test_latencies_are_never_negative_even_when_arrivals_are_stored_in_milliseconds() -> None:
    rng = random.Random(5)
    produced = {i: T0 + rng.uniform(0, 30) for i in range(5000)}
    # Kafka and ClickHouse keep milliseconds: an arrival a few microseconds after its send
    # may be stored as the send's own millisecond
    arrived = [(i, int((at + rng.uniform(0, 0.002)) * 1000) / 1000) for i, at in produced.items()]
    out = latencies_ms(produced, arrived)
    assert len(out) == 5000 and min(out) >= 0


def test_an_arrival_before_its_send_is_an_error_not_a_negative_latency() -> None:
    with pytest.raises(ValueError, match="arrived 20 ms before it was produced"):
        latencies_ms({"a": T0 + 0.030}, [("a", T0 + 0.010)])


def test_future_event_times_do_not_change_postback_latency() -> None:
    """The generator writes a journey's event times into the future and sends it at once;
    measured from the sends, a postback 15 ms after its last input reads 15 ms."""
    gen = LoadGenerator(seed=3)
    sent: dict[str, float] = {}
    occurred: dict[str, float] = {}
    for n, event in enumerate(gen.events(3000)):
        sent.setdefault(event.event_id, T0 + n * 0.001)  # one send a millisecond
        occurred[event.event_id] = event.occurred_at.timestamp()
    produced = postback_produced_at(gen.truth, sent)
    assert set(produced) == set(gen.truth.postback_needs) and len(produced) > 50
    arrived = [(key, at + 0.015) for key, at in produced.items()]
    assert set(latencies_ms(produced, arrived)) == {15.0}
    # the same arrivals measured from event time read low: the bias this replaces
    latest_event = {key: max(max(occurred[e] for e in group) for group in needs)
                    for key, needs in gen.truth.postback_needs.items()}
    assert any(latest_event[key] > produced[key] + 0.015 for key in produced)


def test_cpu_ticks_are_read_past_a_command_name_with_spaces_and_parentheses() -> None:
    stat = "42 (python -m a) b) S 1 42 42 0 -1 4194560 100 0 0 0 700 300 20 5 20 0 8 0 9 0"
    assert stat_cpu_ticks(stat) == 700 + 300 + 20 + 5


def test_cpu_of_a_process_tree_counts_live_descendants_once(tmp_path: Path) -> None:
    def proc(pid: int, ticks: int, children: list[int]) -> None:
        (tmp_path / str(pid) / "task" / str(pid)).mkdir(parents=True)
        (tmp_path / str(pid) / "stat").write_text(
            f"{pid} (x) S 1 1 1 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0 9 0"
        )
        (tmp_path / str(pid) / "task" / str(pid) / "children").write_text(
            " ".join(map(str, children))
        )

    proc(10, 100, [11, 99])  # 99 exited: no /proc entry
    proc(11, 50, [12])
    proc(12, 25, [])
    proc(20, 7, [])
    assert tree_cpu_seconds([10, 20, 11], tmp_path, ticks_per_s=100) == pytest.approx(1.82)
