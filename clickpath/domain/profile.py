"""A player's profile (docs/architecture.md#players), made from the player's state whenever it changes.

The churn-risk score reads the player's own rhythm: their typical gap between events (the span
of their activity over the number of events) against the time since their last event, at the
moment the profile is written (`now`, the caller's clock):

    risk = 1 − exp(−(now − last activity) / (3 × typical gap))

so a player who is away for their usual gap scores 0.28, three gaps 0.63, ten gaps 0.96; a
player with a single event is given a one-day gap. The score is about absence, not value (the
profile carries the value next to it). It is computed when the profile is written
(`churn_risk`), and again at every read in ClickHouse from the same inputs and the current time
(`churn_risk_now` in the `players` view), so an idle player's risk keeps rising with no event
and no timer.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from clickpath.contracts.models import CurrencyTotals, PlayerProfile
from clickpath.domain.consent import postback_block
from clickpath.domain.players import PlayerState

ONE_DAY = timedelta(days=1)


def churn_risk(state: PlayerState, now: datetime) -> float:
    first, last = state.first_activity_at, state.last_activity_at
    if first is None or last is None:
        return 0.0
    gaps = max(state.activity_events - 1, 1)
    typical = max((last - first) / gaps, ONE_DAY) if state.activity_events > 1 else ONE_DAY
    away = max(now - last, timedelta(0))
    return round(1 - math.exp(-(away / (3 * typical))), 4)


def player_profile(state: PlayerState, now: datetime) -> PlayerProfile:
    tag = state.tag
    first = state.first_deposit
    credited = tag is not None and tag.status == "attributed"
    subs = tag.subs if tag is not None and credited else [None] * 5
    money = []
    for currency, t in sorted(state.lifetime.items()):
        ggr = t.stakes - t.wins
        money.append(CurrencyTotals(
            currency=currency, deposit_sum=t.deposit_sum, withdrawal_sum=t.withdrawal_sum,
            chargeback_sum=t.chargeback_sum, stakes=t.stakes, wins=t.wins,
            bonus_stakes=t.bonus_stakes, bonus_cost=t.bonus_cost, ggr=ggr,
            ngr=ggr - t.bonus_cost - t.chargeback_sum,
        ))
    totals = state.lifetime.values()
    return PlayerProfile(
        person_id=state.person_id,
        brand_id=state.brand_id,
        player_id=state.player_id,
        registered_at=state.registered_at,
        kyc_status=state.kyc_status,
        first_deposit_at=first.occurred_at if first else None,
        ftd_amount=first.amount if first else None,
        ftd_currency=first.currency if first else None,
        deposits=sum(t.deposits for t in totals),
        declined_deposits=sum(t.declined_deposits for t in totals),
        withdrawals=sum(t.withdrawals for t in totals),
        chargebacks=sum(t.chargebacks for t in totals),
        money=money,
        sessions=state.sessions,
        last_activity_at=state.last_activity_at,
        first_activity_at=state.first_activity_at,
        activity_events=state.activity_events,
        consents={purpose: mark.granted for purpose, mark in sorted(state.consents.items())},
        rg_active=sorted(state.rg_active),
        tag_status=tag.status if tag else "unattributed",
        affiliate_id=tag.affiliate_id if tag else "",
        campaign_id=tag.campaign_id if tag else "",
        churn_risk=churn_risk(state, now),
        updated_at=now,
        version=state.version,
        # What a later stage's postback (commissions' qualified_cpa) reports, and whether it may
        click_id=tag.click_id if tag is not None and credited else None,
        sub1=subs[0], sub2=subs[1], sub3=subs[2], sub4=subs[3], sub5=subs[4],
        postback_block=postback_block(state.consents, state.rg_active, now),
    )
