"""Small builders for events, shared by unit and integration tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from clickpath.contracts.models import (
    Bonus,
    Chargeback,
    Click,
    Deposit,
    Record,
    Registration,
    Wager,
    Withdrawal,
)

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


# The player-value story: a click, its registration, deposits through their statuses, a wager, a
# bonus, a chargeback and a withdrawal. GGR 100 - 60 = 40; NGR = 40 - 15 bonus cost - 50
# chargeback. The broker suite (test_player_value) and the in-memory harness both tell it.
PLAYER_VALUE_NGR = Decimal("-25.00")


def player_value_story() -> list[Record]:
    p = {"brand_id": "brand-a", "player_id": "p1", "source": "psp"}
    return [
        click("c1", affiliate="aff-1", campaign="camp-a"),
        registration("p1", "c1", minutes=1),
        deposit("p1", "t1", "50.00", minutes=2, status="pending"),
        deposit("p1", "t1", "50.00", minutes=3, status="approved"),
        deposit("p1", "t2", "20.00", minutes=4, status="pending"),
        deposit("p1", "t2", "20.00", minutes=5, status="declined"),
        Wager(event_id="w1", occurred_at=at(6), wager_id="w1", stake=Decimal("100"),
              win=Decimal("60"), bonus_stake=Decimal("10"), currency="EUR",
              game_category="casino", **p),
        Bonus(event_id="b1", occurred_at=at(7), bonus_id="b1", action="converted",
              amount=Decimal("15"), currency="EUR", **p),
        Chargeback(event_id="cb1", occurred_at=at(8), chargeback_id="cb1", transaction_id="t1",
                   amount=Decimal("50.00"), currency="EUR", **p),
        Withdrawal(event_id="wd1", occurred_at=at(9), transaction_id="wd1",
                   amount=Decimal("30.00"), currency="EUR", status="approved", **p),
    ]


# The end-to-end scenario: players out of order with duplicates (p1's registration and deposits
# before its click; p2's deposit before its registration; duplicates by event id and by
# transaction id; p4 organic), and the funnel it gives per (affiliate, campaign, currency):
# (clicks, registrations, FTDs, deposits, deposit sum). The broker suite (test_end_to_end) and
# the in-memory harness (test_topology) both run it.
END_TO_END_FUNNEL = {
    ("aff-1", "camp-a", ""): (2, 2, 0, 0, Decimal("0")),
    ("aff-1", "camp-a", "EUR"): (0, 0, 2, 3, Decimal("125.49")),
    ("aff-2", "camp-b", ""): (1, 0, 0, 0, Decimal("0")),
    ("", "", ""): (0, 1, 0, 0, Decimal("0")),
    ("", "", "EUR"): (0, 0, 1, 1, Decimal("5.00")),
}


def end_to_end_events() -> list[Record]:
    c1 = click("c1", affiliate="aff-1", campaign="camp-a", sub1="s 1")
    p1 = [registration("p1", "c1", minutes=1), deposit("p1", "t1", "10.00", minutes=2),
          deposit("p1", "t2", "15.50", minutes=3)]
    c2 = click("c2", affiliate="aff-1", campaign="camp-a", minutes=5)
    p2_reg, p2_dep = registration("p2", "c2", minutes=6), deposit("p2", "t3", "99.99", minutes=7)
    c3 = click("c3", affiliate="aff-2", campaign="camp-b")
    p4 = [registration("p4", None), deposit("p4", "t4", "5.00", minutes=4)]
    resent_t1 = deposit("p1", "t1", "10.00", minutes=2, event_id="crm-retry-of-t1")
    return [*p1, p2_dep, p1[1], resent_t1, c3, *p4, c1, p2_reg, c2, p2_dep, c1]


# ISO 4217's code for "no currency": a real code no operator pays in, which clickpath refuses.
# The deposit below is built past validation (model_construct), as a producer that does not use
# clickpath's models could write it; the player stage must dead-letter it with that reason.
REFUSED_CURRENCY = "XXX"


def deposit_in_refused_currency() -> Deposit:
    fields = deposit("p9", "t9", "1").model_dump() | {"currency": REFUSED_CURRENCY}
    return Deposit.model_construct(**fields)
