"""The touchpoint linking rule: which of a person's clicks belong to their path, and how.

A registration names one click, its last; that click is always linked (`named_click`). The
person's earlier clicks are reached through the web SDK's first-party device id
(docs/touchpoints.md): a click of the same brand and device counts within the contract
attribution's window (`AttributionWindow`: lookback before, clock skew after the registration),
so a path and the contract attribution never disagree on it (`device`).

Pure functions on keys (a click or a registration as the linker sees it): the ClickHouse write
path (clickpath.infra.touchpoints.links) finds the candidate pairs and stores what these decide;
the identity stage will take the rule over. Nothing here reads a store or a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from clickpath.contracts.models import CanonicalEvent
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.outputs import payload_of

SUBS: Final = ("sub1", "sub2", "sub3", "sub4", "sub5")
NAMED: Final = "named_click"
DEVICE: Final = "device"

LinkId = tuple[str, str, str]
"""A link's identity: (brand, person, click id); one link per identity, its strongest kind."""


@dataclass(frozen=True, slots=True)
class ClickKey:
    """A click as the linker sees it."""

    brand_id: str
    occurred_at: datetime
    click_id: str
    device_id: str
    affiliate_id: str
    campaign_id: str
    subs: tuple[str, ...]

    def lookup_keys(self) -> list[tuple[str, str]]:
        """The (via, key) pairs a registration can reach this click by."""
        return [("click", self.click_id)] + ([("device", self.device_id)] if self.device_id else [])


@dataclass(frozen=True, slots=True)
class RegistrationKey:
    """A registration as the linker sees it."""

    brand_id: str
    registered_at: datetime
    person_id: str
    device_id: str
    click_id: str

    def lookup_keys(self) -> list[tuple[str, str]]:
        """The (via, key) pairs this registration reaches clicks by."""
        named = [("click", self.click_id)] if self.click_id else []
        return named + ([("device", self.device_id)] if self.device_id else [])


Link = tuple[ClickKey, RegistrationKey, str]
"""A decided link: the click, the registration and the link kind (NAMED or DEVICE)."""


def utc(t: datetime) -> datetime:
    """An aware UTC time (a naive one is taken as UTC, as ClickHouse's DateTime64 reads back)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def click_key(event: CanonicalEvent) -> ClickKey:
    payload = payload_of(event)
    return ClickKey(
        brand_id=event.brand_id,
        occurred_at=utc(event.occurred_at),
        click_id=event.click_id or "",
        device_id=str(payload.get("device_id") or ""),
        affiliate_id=event.affiliate_id or "",
        campaign_id=event.campaign_id or "",
        subs=tuple(str(payload.get(s) or "") for s in SUBS),
    )


def registration_key(event: CanonicalEvent) -> RegistrationKey:
    return RegistrationKey(
        brand_id=event.brand_id,
        registered_at=utc(event.occurred_at),
        person_id=event.person_id,
        device_id=str(payload_of(event).get("device_id") or ""),
        click_id=event.click_id or "",
    )


def linkable(events: Iterable[CanonicalEvent]) -> tuple[list[ClickKey], list[RegistrationKey]]:
    """The clicks (with a click id) and registrations (naming a click or a device) among
    `events` that can take part in a link; the rest can never be linked."""
    clicks, regs = [], []
    for e in events:
        if e.event_type == "click" and e.click_id:
            clicks.append(click_key(e))
        elif e.event_type == "registration":
            reg = registration_key(e)
            if reg.click_id or reg.device_id:
                regs.append(reg)
    return clicks, regs


def link_of(click: ClickKey, reg: RegistrationKey, via: str, window: AttributionWindow) -> str | None:
    """How `click` belongs to `reg`'s path when they share the key `via`, or None.

    The named click always; a click of the same device only within the contract attribution's
    window (lookback before, clock skew after the registration; both ends included)."""
    if click.brand_id != reg.brand_id:
        return None
    if via == "click":
        return NAMED if click.click_id == reg.click_id else None
    if click.device_id != reg.device_id:
        return None
    return DEVICE if window.holds(click.occurred_at, reg.registered_at) else None


def pair_links(
    pairs: Iterable[tuple[ClickKey, RegistrationKey, str]], window: AttributionWindow
) -> dict[LinkId, Link]:
    """The links the (click, registration, shared key kind) pairs make, one per (brand, person,
    click): the named click's link when the click is reached both ways."""
    links: dict[LinkId, Link] = {}
    for click, reg, via in pairs:
        link = link_of(click, reg, via, window)
        if link is None:
            continue
        key = (reg.brand_id, reg.person_id, click.click_id)
        held = links.get(key)
        if held is None or (held[2] == DEVICE and link == NAMED):
            links[key] = (click, reg, link)
    return links


def unheld_links(links: Mapping[LinkId, Link], held: Mapping[LinkId, str]) -> dict[LinkId, Link]:
    """Of `links`, those not already held as strong: a link held as the same kind, or as the
    named click (the strongest), is not written again; a device link that turned out to be the
    named click is."""
    return {k: v for k, v in links.items() if held.get(k) not in (v[2], NAMED)}
