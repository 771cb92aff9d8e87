"""Small builders for events, shared by unit and integration tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from clickpath.contracts.models import Click, Deposit, Registration

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def click(click_id: str, affiliate: str = "aff-1", campaign: str = "camp-1", minutes: float = 0,
          brand: str = "brand-a", **extra: object) -> Click:
    return Click(event_id=f"ev-click-{click_id}", occurred_at=at(minutes), brand_id=brand,
                 source="tracker", click_id=click_id, affiliate_id=affiliate,
                 campaign_id=campaign, **extra)


def registration(player: str, click_id: str | None, minutes: float = 1,
                 brand: str = "brand-a") -> Registration:
    return Registration(event_id=f"ev-reg-{player}", occurred_at=at(minutes), brand_id=brand,
                        source="crm", player_id=player, click_id=click_id)


def deposit(player: str, txn: str, amount: str, minutes: float = 2, currency: str = "EUR",
            brand: str = "brand-a", event_id: str | None = None,
            status: str | None = None) -> Deposit:
    default_id = f"ev-dep-{txn}" + (f"-{status}" if status else "")
    return Deposit(event_id=event_id or default_id, occurred_at=at(minutes), brand_id=brand,
                   source="crm", player_id=player, transaction_id=txn, amount=Decimal(amount),
                   currency=currency, status=status)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"
