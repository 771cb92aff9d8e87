"""The click tracker's decisions, with no I/O: click ids, the affiliate and campaign catalogue,
the landing URL, and the Click and PageView records. `connectors/tracker.py` is the HTTP door.

Raw IP addresses enter `make_click` and `make_page_view` and leave only as keyed pseudonyms
(docs/architecture.md); nothing here may store or return them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urlsplit, urlunsplit

from pydantic import ValidationError
from ulid import ULID

from clickpath.contracts.models import Click, PageView
from clickpath.domain.catalogue import AffiliateConfig, CampaignConfig
from clickpath.domain.landing import SUBS, UTM_PARAMS, origin_of, render_landing_url
from clickpath.domain.personal import find_personal, kind_of_value, mask_personal
from clickpath.domain.postback_template import render_template
from clickpath.domain.pseudonym import Keyring, as_keyring

# A ULID in Crockford base32: 48 bits of milliseconds, then 80 random bits.
CLICK_ID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
# The web SDK's first-party cookie with its random device id (connectors/static/clickpath.js).
DEVICE_COOKIE = "cp_did"
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
TEXT_MAX = 2048  # models.Text


def new_click_id() -> str:
    """A ULID: unique, and sorting by it sorts clicks by time (python-ulid's default generator
    is monotonic within a process, so even clicks of the same millisecond keep their order)."""
    return str(ULID())


def click_id_time(click_id: str) -> datetime | None:
    """When a click id was minted, or None when it is not one of ours (not a ULID)."""
    if not CLICK_ID_RE.match(click_id):
        return None
    try:
        return ULID.from_str(click_id).datetime
    except (ValueError, OverflowError):  # a ULID-shaped string from past the year 9999
        return None


# --- the catalogue: affiliates and their campaigns --------------------------------------------


class LinkError(Exception):
    """A request the tracker refuses: `reason` is the metric label, `message` the page's text."""

    def __init__(self, reason: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.reason, self.message, self.field = reason, message, field


@dataclass(frozen=True)
class Link:
    """A resolved tracking link: whose campaign a click on it is."""

    affiliate_id: str
    campaign_id: str
    campaign: CampaignConfig


@dataclass(frozen=True)
class Catalogue:
    """Every affiliate and campaign in effect, indexed the ways the tracker looks them up."""

    affiliates: Mapping[str, AffiliateConfig]
    by_code: Mapping[str, Link]
    brands_by_origin: Mapping[str, frozenset[str]]

    @classmethod
    def build(cls, affiliates: Mapping[str, AffiliateConfig]) -> Catalogue:
        by_code: dict[str, Link] = {}
        origins: dict[str, set[str]] = {}
        for affiliate_id, affiliate in affiliates.items():
            for campaign_id, campaign in affiliate.campaigns.items():
                if campaign.tracking_code:
                    by_code.setdefault(campaign.tracking_code, Link(affiliate_id, campaign_id, campaign))
                origin = landing_origin(campaign.landing_url)
                if origin:
                    origins.setdefault(origin, set()).add(campaign.brand_id)
        return cls(dict(affiliates), by_code, {o: frozenset(b) for o, b in origins.items()})

    @property
    def brands(self) -> frozenset[str]:
        return frozenset(b for brands in self.brands_by_origin.values() for b in brands)

    def link_by_code(self, tracking_code: str) -> Link:
        link = self.by_code.get(tracking_code)
        if link is None:
            raise LinkError("unknown_tracking_code", f"No tracking link has the code “{tracking_code}”.")
        return link

    def link_by_ids(self, affiliate_id: str | None, campaign_id: str | None) -> Link:
        affiliate = self.affiliates.get(affiliate_id or "")
        if affiliate is None:
            raise LinkError("unknown_affiliate", f"No affiliate “{affiliate_id or ''}” is known here.")
        campaign = affiliate.campaigns.get(campaign_id or "")
        if campaign is None:
            raise LinkError(
                "unknown_campaign",
                f"Affiliate “{affiliate_id}” has no campaign “{campaign_id or ''}”.",
            )
        return Link(affiliate_id or "", campaign_id or "", campaign)


def landing_origin(template: str) -> str | None:
    return origin_of(render_template(template, {}))


def overlay(
    configured: Mapping[str, AffiliateConfig], stored: Mapping[str, Mapping[str, Any]]
) -> dict[str, AffiliateConfig]:
    """The affiliates in effect: configuration, with the admin API's changes (`stored`, as in
    catalogue.json) on top. A stored affiliate changes only the fields it sets; its campaigns
    are added to, or replace by id, the configured ones."""
    result = dict(configured)
    for affiliate_id, raw in stored.items():
        patch = AffiliateConfig.model_validate(raw)
        base = configured.get(affiliate_id)
        if base is None:
            result[affiliate_id] = patch
            continue
        fields = {name: getattr(patch, name) for name in patch.model_fields_set if name != "campaigns"}
        result[affiliate_id] = base.model_copy(
            update={**fields, "campaigns": {**base.campaigns, **patch.campaigns}}
        )
    return result


def tracking_links(catalogue: Catalogue, base_url: str) -> list[dict[str, str | None]]:
    """Every campaign's tracking link, sorted by affiliate and campaign: the short form
    (`/c/<code>`) when the campaign has a code, and the query-string form always."""
    base = base_url.rstrip("/")
    rows = []
    for affiliate_id, affiliate in sorted(catalogue.affiliates.items()):
        for campaign_id, campaign in sorted(affiliate.campaigns.items()):
            query_url = f"{base}/c?{urlencode({'aff': affiliate_id, 'campaign': campaign_id})}"
            code = campaign.tracking_code
            rows.append(
                {
                    "url": f"{base}/c/{quote(code, safe='')}" if code else query_url,
                    "query_url": query_url,
                    "affiliate_id": affiliate_id,
                    "affiliate_name": affiliate.name or None,
                    "campaign_id": campaign_id,
                    "brand_id": campaign.brand_id,
                    "tracking_code": code,
                    "landing_url": campaign.landing_url,
                }
            )
    return rows


# --- the visitor --------------------------------------------------------------------------------


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def visitor_ip(
    peer: str | None, header_value: str | None, hops: int = 1, trusted: Sequence[Network] = ()
) -> str | None:
    """The visitor's IP: from the trusted proxy header when it is set (the `hops`-th address
    from the right of X-Forwarded-For: the one our outermost trusted proxy saw), else the TCP
    peer (also when the header has fewer than `hops` entries: none of them is a proxy's).
    The header counts only when the peer is in one of the `trusted` networks (a client
    reaching the service past the proxy writes the header as it likes); none given, never.
    None when that is not an IP address (a test client, a Unix socket)."""
    candidate = peer
    if header_value and trusted_peer(peer, trusted):
        entries = [e.strip() for e in header_value.split(",") if e.strip()]
        if len(entries) >= hops:  # fewer: the leftmost is the client's own, so the peer stays
            candidate = entries[-hops]
    try:
        return str(ipaddress.ip_address((candidate or "").strip()))
    except ValueError:
        return None


def trusted_peer(peer: str | None, networks: Sequence[Network]) -> bool:
    """Whether the TCP peer is one of our proxies (TRACKER_TRUSTED_PROXIES), whose forwarded
    headers are believed; an IPv4 client of a dual-stack socket counts by its IPv4 address."""
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def country_of(header_value: str | None) -> str | None:
    """ISO 3166 alpha-2 from a trusted geo header; Cloudflare's XX (unknown) and T1 (Tor) are none."""
    value = (header_value or "").strip().upper()
    return value if re.fullmatch(r"[A-Z]{2}", value) and value != "XX" else None


def device_id_of(cookie: str | None) -> str | None:
    return cookie if cookie and DEVICE_ID_RE.match(cookie) else None


def link_params(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The sub ids and UTM parameters of a tracking request; anything else is ignored, so a
    link cannot smuggle parameters into the landing URL."""
    subs = {k: query[k] for k in SUBS if query.get(k)}
    utm = {k: query[k] for k in UTM_PARAMS if query.get(k)}
    return subs, utm


def _clip(value: str | None) -> str | None:
    """Headers the browser sends are kept, cut to what a record holds, never refused; with any
    e-mail, phone or IP in them masked (a crawler's user agent names its contact address)."""
    return mask_personal(value[:2 * TEXT_MAX])[:TEXT_MAX] if value else None


def _impersonal(value: str | None) -> str | None:
    """A browser's header kept only when it holds no personal data: the visitor cannot take it
    back, so it is dropped rather than the click refused."""
    return None if value and kind_of_value(unquote_plus(value)) else value


def reduce_url(url: str | None, keep: tuple[str, ...] = ("click_id", *SUBS, *UTM_PARAMS)) -> str | None:
    """Origin and path of a page URL with only the named query parameters: page URLs can carry
    e-mail addresses or session tokens in their query, which must not pass ingress."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k in keep])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))[:TEXT_MAX]


# --- records --------------------------------------------------------------------------------


def make_click(
    link: Link,
    click_id: str,
    *,
    subs: Mapping[str, str],
    utm: Mapping[str, str],
    referrer: str | None,
    user_agent: str | None,
    ip: str | None,
    country: str | None,
    device_id: str | None,
    pseudonym_key: bytes | Keyring,
    now: datetime,
    bot_reason: str | None = None,
) -> tuple[Click, str]:
    """The Click to record and the URL to redirect to (macros filled, UTM kept); raises
    LinkError naming the field when the request's values do not fit a Click."""
    campaign = link.campaign
    found = find_personal({**subs, **utm})  # the affiliate's link: its values go to the landing URL
    if found is not None:
        raise LinkError("personal_data", f"This link's {found.field} {found.reason}.", found.field)
    values = {
        "click_id": click_id,
        **subs,
        "affiliate_id": link.affiliate_id,
        "campaign_id": link.campaign_id,
        "brand_id": campaign.brand_id,
        "tracking_code": campaign.tracking_code,
    }
    try:
        landing_url = render_landing_url(campaign.landing_url, values, utm)
    except ValueError as e:  # a template saved before hosts were checked (IDNA refuses it)
        raise LinkError("bad_landing_url", f"This link's landing URL cannot be used: {e}.",
                        "landing_url") from None
    ip_hash, ip_prefix = as_keyring(pseudonym_key).ip(ip, now) if ip else (None, None)
    try:
        click = Click(
            event_id=f"click-{click_id}",
            occurred_at=now,
            received_at=now,
            brand_id=campaign.brand_id,
            source="tracker",
            click_id=click_id,
            affiliate_id=link.affiliate_id,
            campaign_id=link.campaign_id,
            **subs,
            tracking_code=campaign.tracking_code,
            landing_url=landing_url,
            referrer=_impersonal(reduce_url(referrer, keep=())),
            user_agent=_clip(user_agent),
            ip_hash=ip_hash,
            ip_prefix=ip_prefix,
            country=country,
            device_id=device_id,
            bot_reason=bot_reason,
        )
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise LinkError(
            "bad_link", f"This link's {field} is not acceptable: {first['msg']}.", field
        ) from None
    return click, landing_url


def collect_brand(
    catalogue: Catalogue, origin: str | None, asked: str | None, extra_origins: tuple[str, ...] = ()
) -> str:
    """The brand a collecting page is of, from its Origin: a campaign's landing origin names its
    brands; a page of several brands (or of an extra configured origin) must say which."""
    brands = catalogue.brands_by_origin.get(origin or "")
    if brands is None:
        if not origin or origin not in extra_origins:
            raise LinkError("origin_not_allowed", f"origin {origin!r} is no landing page's", "origin")
        brands = catalogue.brands
    if asked:
        if asked not in brands:
            raise LinkError("invalid", f"brand {asked!r} has no landing page at {origin}", "brand")
        return asked
    if len(brands) != 1:
        raise LinkError("invalid", f"pages at {origin} belong to several brands: pass brand", "brand")
    return next(iter(brands))


def check_collected_page(
    origin: str | None, page_url: str | None, brand_id: str, click_brand: str | None
) -> None:
    """What the web SDK sends must be of the brand it is recorded under: the page at the Origin
    the request came from (a page of brand A's site sent from B's origin would be recorded as
    B's), and the click, when the tracker knows whose it minted (`click_brand`), of that brand.
    Raises LinkError naming the field."""
    if page_url:
        page_origin = origin_of(page_url)
        if page_origin != origin:
            raise LinkError("cross_origin", f"the page {page_origin or page_url[:80]!r} is not at "
                            f"the origin {origin!r} the request came from", "page_url")
    if click_brand is not None and click_brand != brand_id:
        raise LinkError("cross_brand", f"this click id was minted for another brand's campaign, "
                        f"not for {brand_id!r}", "click_id")


def fresh_click_id(click_id: str, now: datetime, lookback: timedelta) -> bool:
    """A click id we could have minted: a ULID from within the attribution lookback, not from
    the future (a minute of clock skew allowed)."""
    minted = click_id_time(click_id)
    return minted is not None and now - lookback <= minted <= now + timedelta(minutes=1)


def make_page_view(
    *,
    click_id: str,
    brand_id: str,
    page_url: str | None,
    referrer: str | None,
    viewport: str | None,
    language: str | None,
    platform: str | None,
    user_agent: str | None,
    device_id: str | None,
    ip: str | None,
    country: str | None,
    pseudonym_key: bytes | Keyring,
    now: datetime,
) -> PageView:
    ip_hash, ip_prefix = as_keyring(pseudonym_key).ip(ip, now) if ip else (None, None)
    page_url, referrer = reduce_url(page_url), reduce_url(referrer, keep=())
    # Looked at decoded: the query keeps sub ids and UTM values, percent-encoded.
    found = find_personal({"page_url": unquote_plus(page_url or ""),
                           "referrer": unquote_plus(referrer or "")})
    if found is not None:
        raise LinkError("personal_data", f"{found.field} {found.reason}", found.field)
    return PageView(
        event_id=f"pv-{new_click_id()}",
        occurred_at=now,
        received_at=now,
        brand_id=brand_id,
        source="sdk",
        click_id=click_id,
        page_url=page_url,
        referrer=referrer,
        viewport=viewport,
        language=language,
        platform=(_clip(platform) or "")[:64] or None,  # a mask can be longer than "::1"
        user_agent=_clip(user_agent),
        device_id=device_id,
        ip_hash=ip_hash,
        ip_prefix=ip_prefix,
        country=country,
    )
