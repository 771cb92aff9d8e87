"""Consent and responsible-gaming status of a player, and what they forbid (docs/delivery.md).

Consent is an append-only log per purpose: the latest change by event time wins, so a late
"granted" from before a withdrawal does not undo it. A withdrawn `affiliate_data_sharing`
consent stops postbacks (they carry a player token, transaction and amounts to the affiliate);
an active self-exclusion, cool-off or account closure stops them too, so that no affiliate is
told about (and can retarget) a player who asked to be left alone. A stopped postback is not
sent later either: the conversion happened while it was forbidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel

from clickpath.contracts.models import Consent, ResponsibleGaming

BLOCKING_RG = frozenset({"self_exclusion", "cool_off", "account_closure"})


class ConsentMark(BaseModel):
    granted: bool
    at: datetime


class RgMark(BaseModel):
    since: datetime
    until: datetime | None = None


def apply_consent(consents: dict[str, ConsentMark], event: Consent) -> bool:
    """Record a consent change; False when an already-known later change supersedes it."""
    known = consents.get(event.purpose)
    if known is not None and known.at > event.occurred_at:
        return False
    consents[event.purpose] = ConsentMark(granted=event.granted, at=event.occurred_at)
    return True


def apply_rg(active: dict[str, RgMark], event: ResponsibleGaming) -> None:
    if event.kind not in BLOCKING_RG:
        return  # deposit limits restrict the player, not what clickpath may tell partners
    if event.action == "start":
        active[event.kind] = RgMark(since=event.occurred_at, until=event.until)
    else:
        active.pop(event.kind, None)


def shares_data(consents: Mapping[str, bool]) -> bool:
    """Whether a profile's consents let clickpath show the player to their affiliate: not when
    `affiliate_data_sharing` was withdrawn (no mark: sharing, as for postbacks)."""
    return consents.get("affiliate_data_sharing", True)


def postback_block(
    consents: dict[str, ConsentMark], active: dict[str, RgMark], at: datetime
) -> str | None:
    """Why a postback about a conversion at `at` may not go, or None when it may."""
    sharing = consents.get("affiliate_data_sharing")
    if sharing is not None and not sharing.granted:
        return f"affiliate_data_sharing consent withdrawn at {sharing.at.isoformat()}"
    for kind, mark in sorted(active.items()):
        if mark.until is None or mark.until > at:
            return f"{kind} active since {mark.since.isoformat()}"
    return None
