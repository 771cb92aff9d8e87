"""The player's value through the real pipeline: deposit statuses, chargebacks, wagers, bonuses
and withdrawals, sent out of order and twice, reach ClickHouse's funnel exactly; NGR per
affiliate equals the hand-worked figure to the cent."""

from __future__ import annotations

import random
from decimal import Decimal

import httpx

from clickpath.contracts.models import Bonus, Chargeback, Wager, Withdrawal
from clickpath.domain.report import summarize
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import funnel_rows
from tests.factories import at, click, deposit, registration
from tests.integration.harness import holds_for, wait_until

MEASURES = (
    "ftds", "ftd_sum", "deposits", "deposit_sum", "declined_deposits", "chargebacks",
    "chargeback_sum", "stakes", "wins", "bonus_stakes", "bonus_cost", "withdrawals",
    "withdrawal_sum",
)
# Worked by hand: t1 pending then approved (counts once, 50.00); t2 pending then declined
# (counts nowhere but declined); a chargeback of t1 (t1 stays counted: deposits are gross);
# one wager 100 staked, 60 won; a 15.00 bonus converted; a 30.00 withdrawal approved.
EXPECTED = dict(zip(MEASURES, (
    1, "50.00", 1, "50.00", 1, 1, "50.00", "100.00", "60.00", "10.00", "15.00", 1, "30.00",
), strict=True))
EXPECTED_NGR = Decimal("-25.00")  # GGR 100 - 60 = 40; NGR = 40 - 15 bonus cost - 50 chargeback


def story():
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


def eur_row(settings) -> dict | None:
    try:
        rows = funnel_rows(settings)
    except httpx.TransportError:
        return None  # the sink is still starting
    for r in rows:
        if (r["affiliate_id"], r["campaign_id"], r["currency"]) == ("aff-1", "camp-a", "EUR"):
            return r
    return None


def figures(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {m: (int(row[m]) if m in ("ftds", "deposits", "declined_deposits", "chargebacks",
                                     "withdrawals") else f"{Decimal(str(row[m])):.2f}")
            for m in MEASURES}


def test_the_players_value_reaches_clickhouse_exactly(settings, codec, start_role) -> None:
    for args in (("worker",), ("sink", "clickhouse")):
        start_role(*args, role_settings=settings)
    events = story()
    retries = [deposit("p1", "t1", "50.00", minutes=3, status="approved", event_id="crm-retry"),
               events[-2].model_copy(update={"event_id": "cb1-again"})]
    sent = events + retries + events[2:6]  # statuses again, and a chargeback resent
    random.Random(7).shuffle(sent)
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all(sent)

    wait_until(lambda: figures(eur_row(settings)) == EXPECTED, 90,
               "aff-1's EUR figures in ClickHouse", every_s=0.5)
    row = eur_row(settings)
    assert row is not None
    ngr = (Decimal(str(row["stakes"])) - Decimal(str(row["wins"])) - Decimal(str(row["bonus_cost"]))
           - Decimal(str(row["chargeback_sum"])))
    assert ngr == EXPECTED_NGR
    reporting = settings.with_overrides(reporting_currency="EUR", fx_rates=[])
    [aff] = [r for r in summarize(funnel_rows(reporting, by_day=True), reporting.fx_table)
             if r["affiliate_id"] == "aff-1"]
    assert (aff["ngr"], aff["ngr_reporting"], aff["chargebacks"]) == ({"EUR": "-25.00"}, "-25.00", 1)
    holds_for(lambda: figures(eur_row(settings)) == EXPECTED, "nothing counted again")
