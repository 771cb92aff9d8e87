"""A player's journey as one key may see it (`GET /v1/players/{player_id}/journey`, `clickpath
player`): the person, its accounts, the account's links, signals, touchpoints, timeline and
profile, shaped from what ClickHouse holds (clickpath/infra/journey.py reads it).

Who a player is at another brand is that brand's: a brand-bound key (operator, analyst) sees
another brand's account of the same person only as `{brand_id, linked: true}`, in `accounts`
and in `links[].other`, and this module is where that is decided, whatever the rows say. It
never reads ClickHouse, settings or a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from clickpath.contracts.money import format_amount
from clickpath.domain.identity.account_state import brand_of
from clickpath.domain.identity.policy import DETERMINISTIC

DEFAULT_TIMELINE = 1000
MAX_TIMELINE = 10_000
"""The timeline's newest events by default, and at most (`limit`)."""
MAX_ROWS = 1000
"""The most accounts, links, signals and touchpoints an answer holds (a person's accounts are
capped by `identity_max_accounts` long before this)."""


@dataclass(frozen=True)
class JourneyRows:
    """What ClickHouse holds about one brand account, unredacted: `accounts` are the person's
    `brand_id:player_id` keys (the account's own among them); `links`, `signals`,
    `touchpoints`, `timeline` and `profile` are rows as read (column -> value)."""

    brand_id: str
    player_id: str
    person_id: str
    accounts: Sequence[str]
    links: Sequence[Mapping[str, Any]] = ()
    signals: Sequence[Mapping[str, Any]] = ()
    touchpoints: Sequence[Mapping[str, Any]] = ()
    timeline: Sequence[Mapping[str, Any]] = ()
    timeline_truncated: bool = False
    profile: Mapping[str, Any] | None = None


def person_accounts(account: str, members: Iterable[str]) -> list[str]:
    """The accounts of `account`'s person: `members` (accounts whose newest change in the merge
    log names it; every account has one, `new` at least) and the account itself, which the sink
    may not have written yet. The account first, then in key order."""
    return [account, *sorted(set(members) - {account})]


def link_kind(reasons: Mapping[str, float]) -> str:
    """`deterministic` when a deterministic identifier (click id, e-mail or phone hash,
    customer id) made the link, else `scored` (device, IP prefix, user agent)."""
    return "deterministic" if DETERMINISTIC & reasons.keys() else "scored"


def journey_answer(rows: JourneyRows, viewer_brand: str | None) -> dict[str, Any]:
    """The journey's JSON as a key of `viewer_brand` sees it (None: an admin key, every brand
    in full). Another brand's account is `{brand_id, linked: true}`, never its player id;
    signals are the account's brand's; money is a decimal string beside its currency."""

    def account_view(brand_id: str, player_id: str) -> dict[str, Any]:
        if viewer_brand is None or brand_id == viewer_brand:
            return {"brand_id": brand_id, "player_id": player_id}
        return {"brand_id": brand_id, "linked": True}

    return {
        "person_id": rows.person_id,
        "brand_id": rows.brand_id,
        "player_id": rows.player_id,
        "accounts": [account_view(*split(a)) for a in rows.accounts],
        "links": [
            {
                "kind": link_kind(link["reasons"]),
                "status": link["status"],
                "score": link["score"],
                "reasons": dict(link["reasons"]),
                "other": account_view(link["other_brand_id"], link["other_player_id"]),
                "decided_at": iso(link["decided_at"]),
            }
            for link in rows.links
        ],
        "signals": [
            {
                "signal_id": s["signal_id"],
                "kind": s["kind"],
                "score": s["score"],
                "reasons": dict(s["reasons"]),
                "accounts": [account_view(*split(a)) for a in s["accounts"]],
                "raised_at": iso(s["raised_at"]),
            }
            for s in rows.signals
            if s["brand_id"] == rows.brand_id
        ],
        "touchpoints": [
            {
                "click_id": t["click_id"], "affiliate_id": t["affiliate_id"],
                "campaign_id": t["campaign_id"], "clicked_at": iso(t["clicked_at"]),
                "link": t["link"],
            }
            for t in rows.touchpoints
        ],
        "timeline": [
            {
                "event_id": e["event_id"], "event_type": e["event_type"],
                "occurred_at": iso(e["occurred_at"]),
                "amount": None if e["amount"] is None else format_amount(e["amount"]),
                "currency": e["currency"] or None, "is_ftd": bool(e["is_ftd"]),
            }
            for e in rows.timeline
        ],
        "timeline_truncated": rows.timeline_truncated,
        "profile": None if rows.profile is None else profile_view(rows.profile),
    }


PROFILE_HIDDEN = frozenset({"person_id", "brand_id", "player_id"})
"""Said once at the top of the answer (the profile's `person_id` is the brand account's key,
not the person)."""


def profile_view(profile: Mapping[str, Any]) -> dict[str, Any]:
    """A `players` row as JSON: times in ISO 8601 UTC, amounts (and per-currency maps of them)
    as decimal strings, an empty string as null."""
    return {name: plain(value) for name, value in profile.items() if name not in PROFILE_HIDDEN}


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_amount(value)
    if isinstance(value, datetime | date):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value == "":
        return None
    return value


def iso(value: datetime | date | None) -> str | None:
    """A time as ISO 8601 in UTC with `Z` (a naive one is UTC: the embedded driver's)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return at.isoformat().replace("+00:00", "Z")
    return value.isoformat()


def split(account: str) -> tuple[str, str]:
    """(brand_id, player_id) of a `brand_id:player_id` key."""
    brand = brand_of(account)
    return brand, account[len(brand) + 1:]
