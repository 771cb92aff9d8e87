"""The identifier stage's decisions: who is told of whom, the cap, clicks, any order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clickpath.contracts.models.identity import ClickCandidate, IdentifierSighting, IdentityEvidence
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.identity.values import IdentifierState, decide_identifier, replay_identifier
from clickpath.domain.outputs import Outcome
from tests.factories import at

POLICY = IdentityPolicy(max_accounts=3, max_clicks=2)
DEVICE = "op|device_id|dev-1"


def seen(account: str | None, minutes: float = 0, click_id: str | None = None) -> IdentifierSighting:
    return IdentifierSighting(identifier=DEVICE, operator_id="op", kind="device_id", brand_id="brand-a",
                              account=account, seen_at=at(minutes),
                              event_id=f"ev-{account}-{click_id}-{minutes}",
                              click_id=click_id, affiliate_id="aff-1" if click_id else None,
                              campaign_id="camp-1" if click_id else None)


def apply(sightings: list[IdentifierSighting]) -> tuple[IdentifierState | None, list]:
    state, outputs = None, []
    for s in sightings:
        state, out, _ = decide_identifier(state, s, POLICY)
        outputs += out
    return state, outputs


def final_evidence(outputs: list) -> dict[tuple[str, str], str]:
    """Per (account, other): shared unless a withdrawal came (final)."""
    found: dict[tuple[str, str], str] = {}
    for o in outputs:
        r = o.record
        if isinstance(r, IdentityEvidence):
            pair = (r.account, r.other)
            found[pair] = "withdrawn" if "withdrawn" in (found.get(pair), r.state) else r.state
    return found


def test_a_second_account_is_told_of_the_first_and_the_first_of_it() -> None:
    _, outputs = apply([seen("brand-a:p1", 1), seen("brand-b:q1", 2)])
    assert final_evidence(outputs) == {("brand-b:q1", "brand-a:p1"): "shared",
                                       ("brand-a:p1", "brand-b:q1"): "shared"}
    weights = {o.record.weight for o in outputs}
    assert weights == {POLICY.weight_of("device_id", "dev-1")}


def test_a_sighting_again_changes_nothing() -> None:
    state, _ = apply([seen("brand-a:p1", 1)])
    assert decide_identifier(state, seen("brand-a:p1", 5), POLICY)[2] is Outcome.DUPLICATE


def test_past_the_cap_every_pair_told_is_withdrawn_and_later_accounts_hear_nothing() -> None:
    state, outputs = apply([seen(f"brand-a:p{i}", i) for i in range(5)])
    assert state is not None and state.shared
    assert set(final_evidence(outputs).values()) == {"withdrawn"}
    assert len(final_evidence(outputs)) == 3 * 2  # the three told, both ways
    assert not any(o.record.account == "brand-a:p4" for o in outputs)


def test_clicks_reach_the_accounts_and_only_the_newest_are_kept() -> None:
    state, outputs = apply([seen(None, 0, "c-1"), seen("brand-a:p1", 5), seen(None, 1, "c-2"),
                            seen(None, 2, "c-3")])
    told = [(o.record.account, o.record.click_id) for o in outputs if isinstance(o.record, ClickCandidate)]
    assert told == [("brand-a:p1", "c-1"), ("brand-a:p1", "c-2"), ("brand-a:p1", "c-3")]
    assert state is not None and set(state.clicks) == {"c-2", "c-3"}


def test_a_replay_sends_again_what_the_sighting_caused() -> None:
    state, outputs = apply([seen("brand-a:p1", 1), seen("brand-b:q1", 2)])
    assert state is not None
    again = replay_identifier(state, seen("brand-b:q1", 2), POLICY)
    assert final_evidence(again) == final_evidence(outputs)


def linking(outputs: list) -> set[tuple[str, str]]:
    return {pair for pair, state in final_evidence(outputs).items() if state == "shared"}


def candidates(outputs: list) -> set[tuple[str, str]]:
    return {(o.record.account, o.record.click_id) for o in outputs if isinstance(o.record, ClickCandidate)}


SIGHTINGS = [seen(f"brand-{'ab'[i % 2]}:p{i}", i) for i in range(5)] + [seen(None, 9, "c-9")]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=3, max_value=6), st.randoms(use_true_random=False),
       st.lists(st.integers(min_value=0, max_value=5), max_size=6))
def test_any_order_and_duplication_ends_the_same(size: int, rng, copies: list[int]) -> None:
    """What still links when the sightings are done, and who heard of which click, whatever
    the order (under the cap of 3 accounts, and past it)."""
    chosen = SIGHTINGS[:size]
    reference_state, reference = apply(chosen)
    order = rng.sample(chosen, len(chosen)) + [chosen[c % len(chosen)] for c in copies]
    state, outputs = apply(order)
    assert state is not None and reference_state is not None
    assert state.shared == reference_state.shared
    assert linking(outputs) == linking(reference)
    if not state.shared:
        assert candidates(outputs) == candidates(reference)
