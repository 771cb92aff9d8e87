"""The player's value through the real pipeline: deposit statuses, chargebacks, wagers, bonuses
and withdrawals, sent out of order and twice, reach ClickHouse's funnel exactly; NGR per
affiliate equals the hand-worked figure to the cent."""

from __future__ import annotations

import random
from decimal import Decimal

import httpx

from clickpath.domain.report import summarize
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import funnel_rows
from tests.factories import PLAYER_VALUE_NGR, deposit, player_value_story
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
EXPECTED_NGR = PLAYER_VALUE_NGR


story = player_value_story


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
