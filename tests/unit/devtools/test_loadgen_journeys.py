"""The load generator's journeys are multi-touch (several affiliates' clicks on one device over
days), and its ground truth stays exact: the contract attribution the pipeline applies to each
registration (its named click, clickpath.domain.attribution) gives the truth's funnel, and the
paths it records are the ones the touchpoint rule links."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from clickpath.contracts.models import Click, ClickLink, Registration
from clickpath.devtools.loadgen import JourneyRates, LoadGenerator, Population
from clickpath.devtools.truth import GroundTruth
from clickpath.devtools.verify import verify_touchpoints
from clickpath.domain.attribution import AttributionWindow, attribute

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
LOOKBACK = AttributionWindow(timedelta(days=30))


def journeys(n: int = 600, **rates: float) -> tuple[LoadGenerator, list[list]]:
    gen = LoadGenerator(Population.synthetic(), JourneyRates(**rates), seed=11)
    return gen, [gen.journey(NOW + timedelta(minutes=i)) for i in range(n)]


def test_journeys_click_several_affiliates_on_one_device_over_days() -> None:
    _, plays = journeys()
    clicked = [[e for e in j if isinstance(e, Click)] for j in plays]
    clicked = [c for c in clicked if c]
    sizes = Counter(len(c) for c in clicked)
    assert set(sizes) == {1, 2, 3, 4} and sizes[1] < len(clicked) / 2
    for clicks in (c for c in clicked if len(c) > 1):
        assert len({c.device_id for c in clicks}) == 1
        assert len({c.affiliate_id for c in clicks}) == len(clicks)  # 12 affiliates: all differ
        times = [c.occurred_at for c in clicks]
        assert times == sorted(times) and times[-1] - times[0] <= timedelta(days=14)
    devices = [c[0].device_id for c in clicked]
    assert 0.8 < sum(d is not None for d in devices) / len(devices) < 0.97
    assert len({d for d in devices if d}) == sum(d is not None for d in devices)  # one per journey


def test_the_registration_names_the_last_click_and_carries_the_device() -> None:
    _, plays = journeys()
    registered = 0
    for journey in plays:
        clicks = [e for e in journey if isinstance(e, Click)]
        regs = [e for e in journey if isinstance(e, Registration)]
        if regs and clicks:
            registered += 1
            assert regs[0].click_id == clicks[-1].click_id
            assert regs[0].device_id == clicks[-1].device_id
            assert regs[0].occurred_at > clicks[-1].occurred_at
    assert registered > 100


def test_the_contract_attribution_of_every_registration_gives_the_truths_funnel() -> None:
    """What the pipeline decides (the named click, by event time) is what the truth counts."""
    gen, plays = journeys()
    decided: Counter[tuple[str, str]] = Counter()
    for journey in plays:
        clicks = {e.click_id: e for e in journey if isinstance(e, Click)}
        for reg in (e for e in journey if isinstance(e, Registration)):
            if reg.click_id is None:
                decided[("", "")] += 1
                continue
            link = ClickLink(
                click_id=reg.click_id,
                person_id=reg.person_id,
                brand_id=reg.brand_id,
                player_id=reg.player_id,
                registration_event_id=reg.event_id,
                registered_at=reg.occurred_at,
            )
            decision = attribute(clicks[reg.click_id], link, LOOKBACK, NOW)
            assert decision.status == "attributed", decision.reason
            decided[(decision.affiliate_id or "", decision.campaign_id or "")] += 1
    truth = {key: row.registrations for key, row in gen.truth.funnel.items() if row.registrations}
    assert decided == truth


def test_the_truths_paths_are_what_the_touchpoint_rule_links() -> None:
    """Every click of the device within the lookback before registration, plus the named one."""
    gen, plays = journeys()
    multi = 0
    for journey in plays:
        clicks = [e for e in journey if isinstance(e, Click)]
        for reg in (e for e in journey if isinstance(e, Registration)):
            if not clicks:
                assert (reg.brand_id, reg.player_id) not in gen.truth.paths
                continue
            linked = [
                c.click_id
                for c in clicks
                if c.click_id == reg.click_id
                or (
                    reg.device_id
                    and c.device_id == reg.device_id
                    and LOOKBACK.holds(c.occurred_at, reg.occurred_at)
                )
            ]
            assert gen.truth.paths[(reg.brand_id, reg.player_id)] == tuple(linked)
            multi += len(linked) > 1
    assert multi > 50


def test_the_truths_paths_survive_saving(tmp_path) -> None:
    gen, _ = journeys(100)
    gen.truth.save(tmp_path / "truth.json")
    import json

    loaded = GroundTruth.from_json(json.loads((tmp_path / "truth.json").read_text()))
    assert loaded.paths == gen.truth.paths and loaded.paths


def test_verify_touchpoints_names_missing_extra_and_misordered_clicks() -> None:
    truth = GroundTruth(paths={("b", "p1"): ("c1", "c2"), ("b", "p2"): ("c3",)})
    assert verify_touchpoints(truth, [("b:p1", "c1"), ("b:p1", "c2"), ("b:p2", "c3")]) == []
    problems = verify_touchpoints(truth, [("b:p1", "c2"), ("b:p1", "c1"), ("b:p3", "c9")])
    assert problems == [
        "b:p1: expected clicks ['c1', 'c2'], got ['c2', 'c1']",
        "b:p2: expected clicks ['c3'], got []",
        "1 persons with touchpoints and no path, e.g. ['b:p3']",
    ]
