"""The touchpoint linking rule without ClickHouse: the named click always, a click of the same
brand and device only within the contract attribution's window (the identity stage applies it
to the clicks the graph finds: tests/unit/domain/identity)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.touch_linking import DEVICE, NAMED, ClickKey, RegistrationKey, link_of

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
WINDOW = AttributionWindow(timedelta(days=30), timedelta(seconds=300))


def a_click(click_id: str = "c1", at: datetime = T0, device: str = "d1", brand: str = "b") -> ClickKey:
    return ClickKey(brand, at, click_id, device)


def a_registration(named: str = "c9", at: datetime = T0, device: str = "d1", brand: str = "b",
                   ) -> RegistrationKey:
    return RegistrationKey(brand, at, device, named)


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
