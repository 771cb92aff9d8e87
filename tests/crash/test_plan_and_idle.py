"""The crash test's own parts, without a broker: the kill plan a seed makes, and when the
pipeline counts as idle (run by `make test-crash` with the broker test; milliseconds)."""

from __future__ import annotations

from tests.crash.idle import behind
from tests.crash.test_broker_crash import ROLES, SENDS, plan


def test_a_seed_makes_one_plan_that_kills_every_role_at_least_ten_times() -> None:
    for seed in range(300):
        faults = plan(seed, SENDS)
        assert faults == plan(seed, SENDS)  # a printed seed replays the same kills
        assert len(faults) >= 10 and {f.role for f in faults} == set(ROLES)
        assert [f.at for f in faults] == sorted(f.at for f in faults)
        assert all(SENDS // 20 <= f.at <= f.back_at for f in faults)
        for role in ROLES:  # never killed again while it is down
            mine = [f for f in faults if f.role == role]
            assert all(a.back_at < b.at for a, b in zip(mine, mine[1:], strict=False))
    assert plan(1, SENDS) != plan(2, SENDS)
    assert any(f.fresh for seed in range(20) for f in plan(seed, SENDS))


def test_a_group_short_of_an_end_or_with_no_end_known_is_behind() -> None:
    committed = {"g.sink": {("t.events", 0): 10, ("t.events", 1): 7}, "g-streams": {("t.in", 0): 3}}
    assert behind(committed, {("t.events", 0): 10, ("t.events", 1): 7, ("t.in", 0): 3}) == {}
    assert behind(committed, {("t.events", 0): 10, ("t.events", 1): 9, ("t.in", 0): None}) == {
        "g.sink": {("t.events", 1): (7, 9)}, "g-streams": {("t.in", 0): (3, None)},
    }
