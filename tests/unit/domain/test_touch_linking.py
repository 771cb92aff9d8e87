"""The touchpoint linking rule without ClickHouse: the named click always, a click of the same
brand and device only within the contract attribution's window, one link per (brand, person,
click) with the named one winning, and nothing written twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.outputs import canonical_of
from clickpath.domain.touch_linking import (
    DEVICE,
    NAMED,
    ClickKey,
    RegistrationKey,
    click_key,
    link_of,
    linkable,
    pair_links,
    registration_key,
    unheld_links,
)
from tests.factories import click, registration

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
WINDOW = AttributionWindow(timedelta(days=30), timedelta(seconds=300))


def a_click(click_id: str = "c1", at: datetime = T0, device: str = "d1", brand: str = "b") -> ClickKey:
    return ClickKey(brand, at, click_id, device, "aff-1", "camp-1", ("", "", "", "", ""))


def a_registration(named: str = "c9", at: datetime = T0, device: str = "d1", brand: str = "b",
                   person: str = "b:p1") -> RegistrationKey:
    return RegistrationKey(brand, at, person, device, named)


def test_the_named_click_is_linked_whenever_it_happened() -> None:
    reg = a_registration(named="c1")
    for age in (timedelta(0), timedelta(days=400), -timedelta(days=2)):
        assert link_of(a_click("c1", T0 - age), reg, "click", WINDOW) == NAMED
    assert link_of(a_click("c2"), reg, "click", WINDOW) is None  # a key clash is not a link


@pytest.mark.parametrize(("clicked", "linked"), [
    (T0 - timedelta(days=30), True),  # the lookback's end is included
    (T0 - timedelta(days=30, seconds=1), False),
    (T0 + timedelta(seconds=300), True),  # within the clock skew after the registration
    (T0 + timedelta(seconds=301), False),
])
def test_a_device_click_counts_within_the_window_only(clicked: datetime, linked: bool) -> None:
    assert link_of(a_click("c1", clicked), a_registration(), "device", WINDOW) == (
        DEVICE if linked else None
    )


def test_another_brand_or_device_is_never_linked() -> None:
    reg = a_registration(named="c1")
    assert link_of(a_click("c1", brand="other"), reg, "click", WINDOW) is None
    assert link_of(a_click("c2", device="d2"), reg, "device", WINDOW) is None


def test_a_click_reached_both_ways_is_one_named_link() -> None:
    c, reg = a_click("c1"), a_registration(named="c1")
    for pairs in ([(c, reg, "device"), (c, reg, "click")], [(c, reg, "click"), (c, reg, "device")]):
        assert pair_links(pairs, WINDOW) == {("b", "b:p1", "c1"): (c, reg, NAMED)}


def test_links_already_held_are_not_written_again_unless_stronger() -> None:
    c1, c2, reg = a_click("c1"), a_click("c2"), a_registration(named="c2")
    links = pair_links([(c1, reg, "device"), (c2, reg, "click")], WINDOW)
    assert unheld_links(links, {}) == links
    held = {("b", "b:p1", "c1"): DEVICE, ("b", "b:p1", "c2"): NAMED}
    assert unheld_links(links, held) == {}
    # a click first linked by device, then found to be the named one: written as named
    held = {("b", "b:p1", "c1"): DEVICE, ("b", "b:p1", "c2"): DEVICE}
    assert unheld_links(links, held) == {
        ("b", "b:p1", "c2"): (c2, reg, NAMED)
    }


def test_linkable_events_are_clicks_with_an_id_and_registrations_with_a_key() -> None:
    clicked = canonical_of(click("c1", "aff-1", device_id="d1"), "", T0)
    named = canonical_of(registration("p1", "c1"), "b:p1", T0)
    organic = canonical_of(registration("p2", None), "b:p2", T0)  # no click, no device
    on_device = canonical_of(
        registration("p3", None).model_copy(update={"device_id": "d1"}), "b:p3", T0
    )
    clicks, regs = linkable([clicked, named, organic, on_device])
    assert clicks == [click_key(clicked)]
    assert regs == [registration_key(named), registration_key(on_device)]
    assert (clicks[0].device_id, regs[1].device_id, regs[0].click_id) == ("d1", "d1", "c1")
    assert clicks[0].occurred_at.tzinfo is not None
