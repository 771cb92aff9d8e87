"""The player's value: deposits through their statuses, the FTD among approved deposits,
chargebacks, wagers and bonuses, the same whatever the order and duplication."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from clickpath.contracts.models import Bonus, Chargeback, PlayerDayFact, Wager, Withdrawal
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.players import PlayerPolicy, decide_player
from tests.factories import at, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(1000)


def run(*records):
    state, outputs, ledger = None, [], MemoryLedger()
    for record in records:
        new, outs, _ = decide_player(state, record, POLICY, NOW, ledger=ledger)
        state = new
        outputs += outs
    return state, outputs


def facts(outputs) -> dict[tuple, dict]:
    """The newest fact per (day, currency), without its version and tag."""
    latest: dict[tuple, PlayerDayFact] = {}
    for o in outputs:
        if isinstance(o.record, PlayerDayFact):
            f = o.record
            if (f.day, f.currency) not in latest or f.version > latest[(f.day, f.currency)].version:
                latest[(f.day, f.currency)] = f
    return {k: f.model_dump(exclude={"version", "affiliate_id", "campaign_id"})
            for k, f in latest.items()}


def money(outputs, day_minutes: float = 2, currency: str = "EUR") -> dict:
    return facts(outputs).get((at(day_minutes).date(), currency), {})


def test_a_pending_deposit_later_declined_never_counts_and_shows_as_declined() -> None:
    state, outputs = run(registration("p1", None),
                         deposit("p1", "t1", "50", status="pending"),
                         deposit("p1", "t1", "50", minutes=3, status="declined"))
    value = money(outputs)
    assert (value["deposits"], value["deposit_sum"], value["declined_deposits"]) == (0, 0, 1)
    assert state.first_deposit is None and value["ftds"] == 0


def test_a_pending_deposit_later_approved_counts_once_at_its_own_time() -> None:
    state, outputs = run(deposit("p1", "t1", "50", minutes=2, status="pending"),
                         deposit("p1", "t1", "50", minutes=60 * 24 * 3, status="approved"),
                         deposit("p1", "t1", "50", minutes=60 * 24 * 3, status="approved",
                                 event_id="operator-retry"))
    value = money(outputs)  # the day the player deposited, not the day it was approved
    assert (value["deposits"], value["deposit_sum"], value["ftds"]) == (1, Decimal("50"), 1)
    assert state.first_deposit is not None and state.first_deposit.occurred_at == at(2)


def test_a_refunded_ftd_hands_the_ftd_to_the_next_approved_deposit() -> None:
    _, outputs = run(deposit("p1", "t1", "10", minutes=2),
                     deposit("p1", "t2", "20", minutes=60 * 24 * 2),
                     deposit("p1", "t1", "10", minutes=60 * 24 * 3, status="refunded"))
    first, second = money(outputs, 2), money(outputs, 60 * 24 * 2)
    assert (first["deposits"], first["ftds"], first["ftd_sum"]) == (0, 0, 0)
    assert (second["deposits"], second["ftds"], second["ftd_sum"]) == (1, 1, Decimal("20"))


def test_a_chargeback_is_its_own_figure_and_its_deposit_stays_counted() -> None:
    cb = Chargeback(event_id="cb-1", occurred_at=at(60), brand_id="brand-a", source="psp",
                    player_id="p1", chargeback_id="cb-1", transaction_id="t1",
                    amount=Decimal("10"), currency="EUR")
    _, outputs = run(deposit("p1", "t1", "10"), cb, cb.model_copy(update={"event_id": "cb-again"}))
    value = money(outputs)
    assert (value["deposits"], value["chargebacks"], value["chargeback_sum"]) == (1, 1, Decimal("10"))


def test_wagers_and_converted_bonuses_make_ggr_and_ngr() -> None:
    wager = Wager(event_id="w-1", occurred_at=at(2), brand_id="brand-a", source="casino",
                  player_id="p1", wager_id="w-1", stake=Decimal("100"), win=Decimal("70"),
                  bonus_stake=Decimal("5"), currency="EUR", game_category="casino")
    bonus = Bonus(event_id="b-1", occurred_at=at(2), brand_id="brand-a", source="crm",
                  player_id="p1", bonus_id="b-1", action="converted", amount=Decimal("8"),
                  currency="EUR")
    granted = bonus.model_copy(update={"event_id": "b-0", "action": "granted"})
    _, outputs = run(wager, wager.model_copy(update={"event_id": "w-1-again"}), granted, bonus)
    value = money(outputs)
    assert (value["stakes"], value["wins"], value["bonus_stakes"], value["bonus_cost"]) == (
        Decimal("100"), Decimal("70"), Decimal("5"), Decimal("8"))
    ngr = value["stakes"] - value["wins"] - value["bonus_cost"] - value["chargeback_sum"]
    assert ngr == Decimal("22")


def test_withdrawals_count_when_approved() -> None:
    wd = Withdrawal(event_id="wd-1", occurred_at=at(2), brand_id="brand-a", source="psp",
                    player_id="p1", transaction_id="w1", amount=Decimal("30"), currency="EUR",
                    status="pending")
    _, outputs = run(wd, wd.model_copy(update={"event_id": "wd-2", "occurred_at": at(5),
                                               "status": "approved"}))
    value = money(outputs)
    assert (value["withdrawals"], value["withdrawal_sum"]) == (1, Decimal("30"))


STORY = [
    registration("p1", None, minutes=1),
    deposit("p1", "t1", "10", minutes=2, status="pending"),
    deposit("p1", "t1", "10", minutes=3, status="approved"),
    deposit("p1", "t2", "25", minutes=4),
    deposit("p1", "t3", "40", minutes=60 * 24, status="pending"),
    deposit("p1", "t3", "40", minutes=60 * 24 + 5, status="declined"),
    deposit("p1", "t1", "10", minutes=60 * 48, status="refunded"),
    deposit("p1", "t4", "7", minutes=60 * 24, currency="GBP"),
    Chargeback(event_id="cb-1", occurred_at=at(60 * 30), brand_id="brand-a", source="psp",
               player_id="p1", chargeback_id="cb-1", transaction_id="t2", amount=Decimal("25"),
               currency="EUR"),
    Wager(event_id="w-1", occurred_at=at(5), brand_id="brand-a", source="casino",
          player_id="p1", wager_id="w-1", stake=Decimal("12"), win=Decimal("3"),
          bonus_stake=Decimal("0"), currency="EUR", game_category="sports"),
]


@settings(max_examples=150, deadline=None)
@given(st.permutations(STORY), st.lists(st.sampled_from(STORY), max_size=6))
def test_any_order_and_any_duplication_give_the_same_value(order, again) -> None:
    _, reference = run(*STORY)
    state, outputs = run(*order, *again)
    assert facts(outputs) == facts(reference)
    assert state.first_deposit is not None and state.first_deposit.transaction_id == "t2"
