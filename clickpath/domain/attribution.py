"""Contract attribution: which affiliate is paid for a registration.

The industry default (docs/architecture.md): the last affiliate click before registration within the
lookback window; the player stays tagged to that affiliate for life. Here the click is the one
the registration names; the identity graph will add clicks reached through other identifiers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from clickpath.contracts.models import Attribution, Click, ClickLink


def attribute(click: Click, link: ClickLink, lookback: timedelta, now: datetime) -> Attribution:
    """Decide one registration's attribution from the click it names, by event time."""
    reason = None
    if click.brand_id != link.brand_id:
        reason = f"click is for brand {click.brand_id}, registration for {link.brand_id}"
    elif click.occurred_at > link.registered_at:
        reason = "click happened after the registration"
    elif link.registered_at - click.occurred_at > lookback:
        reason = f"click is older than the {lookback.days}-day lookback window"
    common = dict(
        person_id=link.person_id,
        brand_id=link.brand_id,
        player_id=link.player_id,
        click_id=link.click_id,
        clicked_at=click.occurred_at,
        registered_at=link.registered_at,
        decided_at=now,
    )
    if reason:
        return Attribution(status="unattributed", reason=reason, **common)
    return Attribution(
        status="attributed",
        affiliate_id=click.affiliate_id,
        campaign_id=click.campaign_id,
        sub1=click.sub1,
        sub2=click.sub2,
        sub3=click.sub3,
        sub4=click.sub4,
        sub5=click.sub5,
        **common,
    )
