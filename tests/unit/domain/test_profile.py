"""The player's profile: every field from the state, the same whatever the order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from clickpath.contracts.models import Kyc, Login, Wager
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.players import PlayerPolicy, decide_player
from clickpath.domain.profile import churn_risk, player_profile
from tests.factories import at, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")


def state_after(*records):
    state, ledger = None, MemoryLedger()
    for record in records:
        new, _, _ = decide_player(state, record, POLICY, at(1000), ledger=ledger)
        state = new
    return state


STORY = [
    registration("p1", None, minutes=0),
    Kyc(event_id="k1", occurred_at=at(5), brand_id="brand-a", source="crm", player_id="p1",
        status="pending"),
    Kyc(event_id="k2", occurred_at=at(60), brand_id="brand-a", source="crm", player_id="p1",
        status="verified"),
    Login(event_id="l1", occurred_at=at(10), brand_id="brand-a", source="crm", player_id="p1"),
    deposit("p1", "t1", "50", minutes=20),
    deposit("p1", "t2", "30", minutes=30, status="declined"),
    Wager(event_id="w1", occurred_at=at(40), brand_id="brand-a", source="casino", player_id="p1",
          wager_id="w1", stake=Decimal("20"), win=Decimal("5"), bonus_stake=Decimal("0"),
          currency="EUR", game_category="casino"),
]


def test_the_profile_holds_what_the_player_did() -> None:
    profile = player_profile(state_after(*STORY), at(1000))
    assert (profile.kyc_status, profile.sessions, profile.deposits, profile.declined_deposits) == (
        "verified", 1, 1, 1)
    assert (profile.ftd_amount, profile.ftd_currency, profile.first_deposit_at) == (
        Decimal("50"), "EUR", at(20))
    [eur] = profile.money
    assert (eur.deposit_sum, eur.stakes, eur.ggr, eur.ngr) == (
        Decimal("50"), Decimal("20"), Decimal("15"), Decimal("15"))
    assert profile.last_activity_at == at(60) and profile.tag_status == "organic"


def test_the_profile_is_the_same_in_reverse_order() -> None:
    forward = player_profile(state_after(*STORY), at(1000))
    backward = player_profile(state_after(*reversed(STORY)), at(1000))
    assert forward.model_dump(exclude={"version"}) == backward.model_dump(exclude={"version"})


def test_churn_risk_grows_with_absence_measured_in_the_players_own_rhythm() -> None:
    state = state_after(*STORY)  # 7 events over an hour: a ten-minute rhythm (floored to a day)
    last = state.last_activity_at
    risks = [churn_risk(state, last + timedelta(days=d)) for d in (0, 3, 9, 30)]
    assert risks[0] == 0 and risks == sorted(risks) and 0.6 < risks[1] < 0.7 and risks[3] > 0.99
