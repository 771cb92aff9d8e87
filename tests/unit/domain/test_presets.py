"""Postback presets: one table, rendered to templates the ordinary validation accepts, and every
wrong override refused at configuration with its name (issue 16)."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from clickpath.domain.endpoints import POSTBACK_EVENTS, Endpoint, validation_message
from clickpath.domain.postback_template import validate_template
from clickpath.domain.presets import PRESETS, REVERSAL, PresetError, check, default_events, preset_view

NEEDS = {"everflow": {"nid": "1"}, "cake": {"offer": "1"}, "tune": {"offer_id": "1"}}
EXPECTED_REVERSALS = {"keitaro", "affise", "redtrack", "scaleo", "bemob"}


def endpoint(preset: str, params: dict[str, str] | None = None, **more) -> Endpoint:
    return Endpoint(
        endpoint_id="pb-1",
        affiliate_id="aff-1",
        preset=preset,
        url=more.pop("url", "https://tracker.example/pb"),
        params={**NEEDS.get(preset, {}), **(params or {})},
        **more,
    )


def refusal(preset: str, params: dict[str, str] | None = None, **more) -> str:
    with pytest.raises(ValidationError) as e:
        endpoint(preset, params, **more)
    return validation_message(e.value)


def test_the_table_has_the_ten_trackers_and_the_documented_reversals() -> None:
    assert set(PRESETS) == {
        "everflow",
        "voluum",
        "keitaro",
        "cake",
        "tune",
        "affise",
        "redtrack",
        "binom",
        "bemob",
        "scaleo",
    }
    assert {name for name, p in PRESETS.items() if p.reversal} == EXPECTED_REVERSALS
    for p in PRESETS.values():
        assert p.sources, p.name
        assert set(p.statuses) <= set(POSTBACK_EVENTS), p.name
        if p.vocabulary:  # every default status is one the tracker knows
            assert set(p.statuses.values()) <= set(p.vocabulary), p.name
        if p.reversal:
            assert p.statuses.get(REVERSAL), p.name
        assert preset_view(p)["overrides"] == p.overrides()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_event_of_every_preset_renders_a_template_the_validation_accepts(name: str) -> None:
    goals = {f"goal_{e}": "9" for e in ("registration", "deposit", "qualified_cpa")}
    events = [e for e in POSTBACK_EVENTS if e != REVERSAL or PRESETS[name].reversal]
    e = endpoint(name, goals if PRESETS[name].goal else {}, events=events)
    for event in events:
        for reverses in ("ftd", "deposit") if event == REVERSAL else (None,):
            template = e.template_for(event, reverses)
            validate_template(template)
            assert template.startswith("https://tracker.example/pb?"), template
            assert "{" + "click_id}" in template


def test_a_preset_brings_its_default_events() -> None:
    # Keitaro takes a status change: a charged-back conversion is reversed there by default.
    assert endpoint("keitaro").events == ["registration", "ftd", "chargeback"]
    # BeMob: no event parameter, one kind; its statuses need mapping in BeMob first, so a
    # reversal is opted into (issue 21, item 15), as RedTrack's (a non-default duplicate mode).
    assert endpoint("bemob").events == ["ftd"]
    assert endpoint("redtrack").events == ["registration", "ftd"]
    assert endpoint("affise").events == endpoint("scaleo").events == ["registration", "ftd", "chargeback"]
    # Everflow's registration needs its event id: without one the default is the FTD alone.
    assert endpoint("everflow").events == ["ftd"]
    assert endpoint("everflow", {"goal_registration": "5"}).events == ["registration", "ftd"]
    assert default_events("tune", {}) == ["ftd"]  # no documented status change: no reversal
    assert endpoint("keitaro", events=["ftd", "deposit"]).events == ["ftd", "deposit"]


@pytest.mark.parametrize(
    ("preset", "params", "events", "named"),
    [
        ("keitaro", {"goal_ftd": "3"}, None, "params.goal_ftd: keitaro takes no 'goal_ftd'"),
        ("affise", {"colour": "red"}, None, "params.colour: affise takes no 'colour'"),
        ("affise", {"status_chargeback": "9"}, None, "params.status_chargeback: '9' is not one of affise's"),
        ("keitaro", {"status_ftd": "approved"}, None, "params.status_ftd: 'approved' is not one of"),
        ("redtrack", {"status_ftd": "approved"}, None, "params.status_ftd"),  # case-sensitive
        (
            "everflow",
            {"goal_registration": "signup"},
            None,
            "params.goal_registration: everflow takes a number",
        ),
        ("tune", {"offer_id": "x1"}, None, "params.offer_id: tune takes a number"),
        ("voluum", {"goal_ftd": "a b"}, None, "params.goal_ftd: 'a b': letters, digits"),
        ("voluum", {"click_id_from": "sub9"}, None, "params.click_id_from: 'sub9' is not one of"),
        ("everflow", {"nid": ""}, None, "params.nid"),
        ("everflow", {}, ["registration"], "params.goal_registration: everflow needs the adv_event_id"),
        ("voluum", {}, ["qualified_cpa"], "params.goal_qualified_cpa"),
        ("everflow", {}, ["ftd", "chargeback"], "events: everflow takes no status change"),
        ("binom", {}, ["chargeback"], "events: binom takes no status change"),
        ("nosuch", {}, ["ftd"], "preset: unknown 'nosuch'"),
    ],
)
def test_a_wrong_override_is_refused_with_its_name(preset, params, events, named) -> None:
    more = {"events": events} if events else {}
    assert named in refusal(preset, params, **more)


def test_required_fixed_parameters_may_stand_in_the_base_url() -> None:
    with pytest.raises(ValidationError, match="params.nid: everflow needs 'nid'"):
        Endpoint(endpoint_id="pb-1", affiliate_id="aff-1", preset="everflow", url="https://t.example/")
    e = Endpoint(
        endpoint_id="pb-1",
        affiliate_id="aff-1",
        preset="tune",
        url="https://n.go2cloud.org/aff_lsr?offer_id=26",
    )
    assert e.template_for("ftd") == (
        "https://n.go2cloud.org/aff_lsr?offer_id=26&transaction_id={click_id}"
        "&amount={amount}&adv_sub={transaction_id}"
    )


def test_preset_endpoints_are_plain_gets_to_a_base_url_without_macros() -> None:
    assert "url: a preset's base URL has no macros" in refusal("keitaro", url="https://t.example/{sub1}")
    assert "method: trackers take preset postbacks as GET" in refusal("keitaro", method="POST", body="form")
    with pytest.raises(ValidationError, match="params: overrides are for a preset"):
        Endpoint(
            endpoint_id="pb-1",
            affiliate_id="aff-1",
            url="https://t/?c={click_id}",
            events=["ftd"],
            params={"goal_ftd": "1"},
        )
    with pytest.raises(ValidationError, match="presets are for postbacks"):
        Endpoint(
            endpoint_id="wh-1",
            kind="webhook",
            url="https://t.example/hook",
            method="POST",
            events=["ftd"],
            preset="keitaro",
        )


def test_the_click_id_may_come_from_a_sub_id_and_reversals_name_the_reversed_goal() -> None:
    e = endpoint("scaleo", {"click_id_from": "sub3", "goal_deposit": "dep"}, events=["deposit", "chargeback"])
    assert "click_id={sub3}" in e.template_for("deposit")
    assert "goal_alias=dep&conv_status=rejected" in e.template_for("chargeback", "deposit")
    assert "goal_alias=ftd&conv_status=rejected" in e.template_for("chargeback", "ftd")


@pytest.mark.parametrize(
    ("base_url", "params", "named"),
    [
        ("https://t.example/postback#frag", {}, "url: a preset's base URL has no '#fragment'"),
        ("https://t.example/postback#", {}, "url: a preset's base URL has no '#fragment'"),
        ("https://t.example/postback?subid=x", {}, "url: the base URL already has 'subid'"),
        ("https://t.example/postback?status=sale", {}, "url: the base URL already has 'status'"),
    ],
)
def test_a_base_url_that_would_garble_the_request_is_refused(base_url, params, named) -> None:
    """A fragment swallows every parameter after it; a parameter the preset sends, also in the
    base URL, would go twice."""
    with pytest.raises(PresetError, match=re.escape(named)):
        check("keitaro", base_url, params, ["ftd"])


def test_a_fixed_parameter_may_sit_in_the_base_url_but_not_twice() -> None:
    check("cake", "https://t.example/p.ashx?o=12", {}, ["ftd"])
    with pytest.raises(PresetError, match=re.escape("url: the base URL already has 'o'")):
        check("cake", "https://t.example/p.ashx?o=12", {"offer": "5"}, ["ftd"])


def test_an_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="preset: unknown 'voluumm'; known: everflow"):
        Endpoint(endpoint_id="e1", affiliate_id="aff-1", url="https://t.example/", preset="voluumm")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_the_presets_view_shows_the_events_an_endpoint_gets_without_events(name: str) -> None:
    """`postbacks presets` and `postbacks add` agree (issue 21, item 15: the view listed
    registration,ftd for five presets whose endpoints also got chargeback)."""
    view = preset_view(PRESETS[name])
    assert endpoint(name).events == view["default_events"] == default_events(name, {})
    goals = {f"goal_{e}": "7" for e in view["default_events_need_goal"]}
    assert endpoint(name, goals).events == default_events(name, goals)
    assert set(view["default_events_need_goal"]) <= set(endpoint(name, goals).events)


@pytest.mark.parametrize("base_url", ["https://t.example/postback?status", "https://t.example/pb?x=1&subid"])
def test_a_value_less_parameter_the_preset_sends_is_refused_too(base_url) -> None:
    """`?status` is the parameter `status`, empty: the preset's own would go twice (item 25)."""
    with pytest.raises(PresetError, match="url: the base URL already has"):
        check("keitaro", base_url, {}, ["ftd"])
