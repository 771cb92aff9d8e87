"""An account counts at most `max_per_account` values of one kind: one seen from thousands of
addresses keeps the first ones, and every one left out is named for the metrics."""

from __future__ import annotations

from clickpath.contracts.models import Login
from clickpath.domain.identity.accounts import ACCOUNT_CAP, observe, within_account_cap
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.identity.sightings import sightings_of
from clickpath.domain.outputs import canonical_of
from tests.factories import T0, at

POLICY = IdentityPolicy(max_per_account=2)


def login(n: int, device: str) -> object:
    event = Login(event_id=f"l{n}", occurred_at=at(n), brand_id="brand-a", source="crm",
                  player_id="p1", device_id=device)
    return canonical_of(event, "brand-a:p1", T0)


def test_new_values_past_the_cap_are_left_out_and_known_ones_still_count() -> None:
    state = None
    for n, device in enumerate(["d1", "d2", "d3", "d1"]):
        event = login(n, device)
        kept, capped = within_account_cap(state, sightings_of(event, POLICY).sent, POLICY)
        state, _, _ = observe(state, event, kept, POLICY, T0)
        if device == "d3":
            assert (kept, capped) == ([], [("device_id", ACCOUNT_CAP)])
        else:
            assert capped == [] and [s.kind for s in kept] == ["device_id"]
    assert sorted(i.rsplit("|", 1)[1] for i in state.sent) == ["d1", "d2"]


def test_the_cap_counts_within_one_event_too() -> None:
    from clickpath.contracts.models.identity import IdentifierSighting

    many = [IdentifierSighting(identifier=f"default|ip_prefix|10.0.{i}.0/24", operator_id="default",
                               kind="ip_prefix", brand_id="brand-a", account="brand-a:p1",
                               seen_at=T0, event_id="l9") for i in range(5)]
    kept, capped = within_account_cap(None, many, POLICY)
    assert len(kept) == 2 and capped == [("ip_prefix", ACCOUNT_CAP)] * 3
