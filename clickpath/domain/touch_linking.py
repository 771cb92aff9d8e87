"""The touchpoint linking rule: which of a person's clicks belong to their path, and how.

A registration names one click, its last; that click is always linked (`named_click`). The
person's other clicks are reached through a device id they share (docs/touchpoints.md): a
click of the same brand and device counts within the contract attribution's window
(`AttributionWindow`: lookback before, clock skew after the registration), so a path and the
contract attribution never disagree on it (`device`).

Pure functions on keys (a click or a registration as the linker sees it): the identity stage
(clickpath.domain.identity.touches) finds the candidate clicks through the graph and applies
this rule to each. Nothing here reads a store or a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from clickpath.domain.attribution import AttributionWindow

NAMED: Final = "named_click"
DEVICE: Final = "device"


@dataclass(frozen=True, slots=True)
class ClickKey:
    """A click as the linker sees it."""

    brand_id: str
    occurred_at: datetime
    click_id: str
    device_id: str


@dataclass(frozen=True, slots=True)
class RegistrationKey:
    """A registration as the linker sees it: the click it names ('' for none), the device it
    reaches clicks by."""

    brand_id: str
    registered_at: datetime
    device_id: str
    click_id: str


def link_of(click: ClickKey, reg: RegistrationKey, via: str, window: AttributionWindow) -> str | None:
    """How `click` belongs to `reg`'s path when they share the key `via` ('click': the named
    click id; 'device': a device id), or None.

    The named click always; a click of the same device only within the contract attribution's
    window (lookback before, clock skew after the registration; both ends included)."""
    if click.brand_id != reg.brand_id:
        return None
    if via == "click":
        return NAMED if click.click_id == reg.click_id else None
    if click.device_id != reg.device_id:
        return None
    return DEVICE if window.holds(click.occurred_at, reg.registered_at) else None
