"""The identity window: two accounts share an identifier only if they were seen with it within
`policy.window` of each other, the gap between their ranges of sightings (earliest to the day
of the latest). Ranges only grow, so any order of the same sightings tells the same pairs."""

from __future__ import annotations

import itertools
from datetime import timedelta

from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.identity.values import decide_identifier
from tests.unit.domain.identity.test_values import final_evidence, seen

DAY = 24 * 60
POLICY = IdentityPolicy(max_accounts=5, window=timedelta(days=30))


def told(sightings: list) -> dict:
    state, outputs = None, []
    for s in sightings:
        state, out, _ = decide_identifier(state, s, POLICY)
        outputs += out
    return final_evidence(outputs)


def test_accounts_seen_forty_days_apart_share_nothing() -> None:
    assert told([seen("brand-a:p1", 0), seen("brand-b:q1", 40 * DAY)]) == {}


def test_a_later_sighting_brings_the_pair_within_the_window() -> None:
    sightings = [seen("brand-a:p1", 0), seen("brand-b:q1", 40 * DAY), seen("brand-a:p1", 15 * DAY)]
    assert told(sightings) == {("brand-a:p1", "brand-b:q1"): "shared",
                               ("brand-b:q1", "brand-a:p1"): "shared"}


def test_any_order_of_the_same_sightings_tells_the_same_pairs() -> None:
    sightings = [seen("brand-a:p1", 0), seen("brand-b:q1", 40 * DAY), seen("brand-a:p1", 15 * DAY),
                 seen("brand-c:r1", 80 * DAY), seen("brand-b:q1", 41 * DAY)]
    results = {tuple(sorted(told(list(order)).items()))
               for order in itertools.permutations(sightings)}
    assert len(results) == 1
    assert dict(next(iter(results))) == {("brand-a:p1", "brand-b:q1"): "shared",
                                         ("brand-b:q1", "brand-a:p1"): "shared"}


def test_no_window_links_accounts_however_far_apart() -> None:
    state, outputs = None, []
    for s in [seen("brand-a:p1", 0), seen("brand-b:q1", 400 * DAY)]:
        state, out, _ = decide_identifier(state, s, IdentityPolicy(window=timedelta(0)))
        outputs += out
    assert len(final_evidence(outputs)) == 2
