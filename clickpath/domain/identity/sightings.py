"""What one canonical event says about identity: the identifiers it carries, as sightings for
the identifiers' partitions.

A registration names its click and carries the keyed e-mail and phone hashes, the operator's
`customer_id` when sent, the device and IP prefix; a login the device, IP prefix, user agent and
customer id; a click (before any account names it) its click id and device, with the affiliate
and campaign its touchpoint will need (a click is no account: its IP prefix and user agent
would be evidence of nobody). During a pseudonym key's grace period a registration also carries
its e-mail and phone hashes under the previous key (`previous_email_hash`,
`previous_phone_hash`): both are sighted, as the same kind, so the account meets those
registered before the rotation (old version only) and after the grace period (new version
only; docs/privacy.md#pseudonym-key-rotation). Bot clicks and the other event
types carry nothing here. Values on the refused list are left out and listed for the metrics
(by kind and reason, never the value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from ua_parser import parse as parse_user_agent

from clickpath.contracts.models import CanonicalEvent, PageView
from clickpath.contracts.models.base import is_sealed
from clickpath.contracts.models.identity import IdentifierKind, IdentifierSighting
from clickpath.domain.identity.account_state import account_of
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.identity.refused import refusal_of
from clickpath.domain.outputs import payload_of

# Per event type, the kinds it carries (ua_family is derived from `user_agent`).
KINDS: Final[dict[str, tuple[IdentifierKind, ...]]] = {
    "registration": ("click_id", "email_hash", "phone_hash", "customer_id", "device_id",
                     "ip_prefix", "ua_family"),
    "login": ("customer_id", "device_id", "ip_prefix", "ua_family"),
    # a click's side only tells its identifiers' partitions where a touchpoint may come from:
    # its id (the named click) and its device (clickpath.domain.identity.values.CLICK_KINDS)
    "click": ("click_id", "device_id"),
}
OTHER: Final = "Other"
# Opens a sealed personal field (field, sealed value) with its account's key; None when the key
# is gone (the account was erased) or the value is damaged (docs/privacy.md#erasure).
Reveal = Callable[[str, str], str | None]


def _hidden(field: str, value: str) -> str | None:
    return None  # without a way to open it, a sealed value tells nothing


@dataclass(frozen=True, slots=True)
class Sightings:
    sent: tuple[IdentifierSighting, ...]
    refused: tuple[tuple[str, str], ...]  # (kind, reason)


def identifier_key(operator_id: str, kind: str, value: str) -> str:
    """The identifier stage's key: persons join only within an operator."""
    return f"{operator_id}|{kind}|{value}"


@lru_cache(maxsize=4096)
def ua_family(user_agent: str) -> str | None:
    """The browser and OS family of a user agent ("Chrome/Windows"); None when neither is known.
    Versions are left out: a browser update must not make a device look new."""
    parsed = parse_user_agent(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else OTHER
    system = parsed.os.family if parsed.os else OTHER
    return None if browser == OTHER and system == OTHER else f"{browser}/{system}"


def _open(payload: dict[str, Any], reveal: Reveal) -> dict[str, Any]:
    """The payload with its sealed fields opened (those whose key is gone: None)."""
    if not any(is_sealed(v) for v in payload.values()):
        return payload
    return {k: reveal(k, v) if is_sealed(v) else v for k, v in payload.items()}


# The kinds a pseudonym key's grace period gives a second value of: the field with the
# previous key version's pseudonym (a version-marked value never equals an unmarked one, so the
# two are two identifiers of one kind, which pairs.py counts as one agreement).
PREVIOUS_VERSION: Final[dict[IdentifierKind, str]] = {
    "email_hash": "previous_email_hash", "phone_hash": "previous_phone_hash",
}


def _values(event: CanonicalEvent, payload: dict[str, Any]) -> dict[str, tuple[str | None, ...]]:
    agent = payload.get("user_agent")
    values: dict[str, tuple[str | None, ...]] = {
        "click_id": (event.click_id,),
        "email_hash": (payload.get("email_hash"),),
        "phone_hash": (payload.get("phone_hash"),),
        "customer_id": (payload.get("customer_id"),),
        "device_id": (payload.get("device_id"),),
        "ip_prefix": (payload.get("ip_prefix"),),
        "ua_family": (ua_family(agent) if isinstance(agent, str) and agent.strip() else None,),
    }
    for kind, field in PREVIOUS_VERSION.items():
        previous = payload.get(field)
        if isinstance(previous, str) and previous not in values[kind]:
            values[kind] += (previous,)
    return values


PAGE_VIEW_KINDS: Final[tuple[IdentifierKind, ...]] = ("device_id", "ip_prefix", "ua_family")


def page_view_sightings(view: PageView, policy: IdentityPolicy) -> Sightings:
    """The sightings of a page view, as its click's (no account yet): the device, IP prefix
    and user-agent family of the visitor on the landing page. The click's side sends them on as
    the sightings of each account that named the click (clickpath.domain.identity.page_views)."""
    agent = view.user_agent
    values: dict[str, tuple[str | None, ...]] = {
        "device_id": (view.device_id,),
        "ip_prefix": (view.ip_prefix,),
        "ua_family": (ua_family(agent) if agent and agent.strip() else None,),
    }
    return _sightings(PAGE_VIEW_KINDS, values, policy, view.brand_id, view.occurred_at,
                      view.event_id, None, None)


def sightings_of(event: CanonicalEvent, policy: IdentityPolicy, reveal: Reveal = _hidden
                 ) -> Sightings:
    """The sightings `event` gives, and the refused values it carried; `reveal` opens the
    fields the door sealed under the account's key."""
    kinds = KINDS.get(event.event_type)
    if not kinds:
        return Sightings((), ())
    payload = _open(payload_of(event), reveal)
    if event.event_type == "click" and payload.get("bot_reason"):
        return Sightings((), ())
    is_click = event.event_type == "click" and not event.player_id
    if not is_click and not event.player_id:
        return Sightings((), ())
    account = None if is_click else account_of(event)
    return _sightings(kinds, _values(event, payload), policy, event.brand_id, event.occurred_at,
                      event.event_id, account, event if is_click else None)


def _sightings(
    kinds: tuple[IdentifierKind, ...], values: dict[str, tuple[str | None, ...]],
    policy: IdentityPolicy,
    brand_id: str, seen_at: datetime, event_id: str, account: str | None,
    click: CanonicalEvent | None,
) -> Sightings:
    """One sighting per value of each kind that is not refused; `click`: the click whose
    sightings they are (its id, affiliate and campaign go with them), else the account's."""
    operator = policy.operator_of(brand_id)
    sent: list[IdentifierSighting] = []
    refused: list[tuple[str, str]] = []
    for kind, value in ((k, v) for k in kinds for v in values[k]):
        if value is None:
            continue
        reason = refusal_of(value, policy.refused)
        if reason is not None:
            refused.append((kind, reason))
            continue
        sent.append(IdentifierSighting(
            identifier=identifier_key(operator, kind, value.strip()),
            operator_id=operator,
            kind=kind,
            brand_id=brand_id,
            account=account,
            seen_at=seen_at,
            event_id=event_id,
            click_id=click.click_id if click else None,
            affiliate_id=click.affiliate_id if click else None,
            campaign_id=click.campaign_id if click else None,
        ))
    return Sightings(tuple(sent), tuple(refused))
