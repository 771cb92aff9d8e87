"""Persons: accounts agree on one by labels along merged links; removals split them again.

Scenarios run through the in-memory inbox (random order, copies, replays), several seeds each.
"""

from __future__ import annotations

import pytest

from clickpath.contracts.models.identity import IdentityEvidence, PersonLabel, UnmergeRequest
from clickpath.domain.identity.account_state import AccountState, person_id_of
from clickpath.domain.identity.accounts import decide_inbox, observe
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.outputs import Outcome
from tests.unit.domain.identity.inbox_loop import OPERATOR, T0, Input, Loop, at, event, evidence

POLICY = IdentityPolicy()
A, B, C, A2 = "brand-a:p1", "brand-b:p1", "brand-c:p1", "brand-a:p2"
SEEDS = range(8)


def pid(account: str) -> str:
    return person_id_of(OPERATOR, account)


def born(account: str, minutes: float) -> Input:
    return (event(account, minutes, "registration"), [])


def run(seed: int, *inputs: Input) -> Loop:
    return Loop(POLICY, seed=seed).run(inputs)


@pytest.mark.parametrize("seed", SEEDS)
def test_one_email_at_two_brands_is_one_person_with_two_accounts(seed: int) -> None:
    # Each account's event comes before the evidence it led to, as it does in the stream.
    loop = Loop(POLICY, seed=seed).run([born(A, 0), born(B, 10)])
    loop.run(evidence(A, B, "email_hash", "e", POLICY))
    assert loop.person(A) == loop.person(B) == pid(A)
    change = loop.changes()[B]
    assert (change.kind, change.person_id, change.previous_person_id) == ("merge", pid(A), pid(B))
    assert loop.changes()[A].kind == "new"  # the earliest account never changed person


@pytest.mark.parametrize("seed", SEEDS)
def test_device_and_user_agent_across_brands_merge_a_device_alone_does_not(seed: int) -> None:
    both = run(seed, born(A, 0), born(B, 1), *evidence(A, B, "device_id", "d", POLICY),
               *evidence(A, B, "ua_family", "u", POLICY))
    assert both.person(B) == pid(A) and both.links()[(A, B)].status == "merged"
    alone = run(seed, born(A, 0), born(B, 1), *evidence(A, B, "device_id", "d", POLICY))
    assert (alone.person(A), alone.person(B)) == (pid(A), pid(B))
    assert alone.links()[(A, B)].status == alone.links()[(B, A)].status == "possible"


@pytest.mark.parametrize("seed", SEEDS)
def test_two_accounts_of_one_brand_on_one_device_are_flagged_not_merged(seed: int) -> None:
    loop = run(seed, born(A, 0), born(A2, 1), *evidence(A, A2, "device_id", "d", POLICY),
               *evidence(A, A2, "ua_family", "u", POLICY), *evidence(A, A2, "ip_prefix", "i", POLICY))
    assert (loop.person(A), loop.person(A2)) == (pid(A), pid(A2))
    assert loop.links()[(A, A2)].status == "possible"
    (signal,) = loop.signals().values()
    assert (signal.status, signal.accounts, signal.brand_id) == ("open", [A, A2], "brand-a")
    assert signal.score == pytest.approx(12.62 + POLICY.fields["ua_family"].weight(), abs=0.01)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_withdrawal_splits_a_merged_person_in_two(seed: int) -> None:
    shared = evidence(A, B, "email_hash", "e", POLICY)
    gone = evidence(A, B, "email_hash", "e", POLICY, state="withdrawn")
    loop = Loop(POLICY, seed=seed).run([born(A, 0), born(B, 5), *shared])
    assert loop.person(B) == pid(A)
    loop.run(gone)
    assert (loop.person(A), loop.person(B)) == (pid(A), pid(B))
    change = loop.changes()[B]
    assert (change.kind, change.person_id, change.previous_person_id) == ("unmerge", pid(B), pid(A))
    assert loop.links()[(A, B)].status == loop.links()[(B, A)].status == "removed"


@pytest.mark.parametrize("seed", SEEDS)
def test_a_chain_cut_in_the_middle_keeps_the_half_with_the_earliest(seed: int) -> None:
    # A - B by e-mail, B - C by customer id; C is the earliest, then the B - C link goes.
    inputs = [born(A, 3), born(B, 5), born(C, 1), *evidence(A, B, "email_hash", "e", POLICY),
              *evidence(B, C, "customer_id", "c", POLICY)]
    loop = Loop(POLICY, seed=seed).run(inputs)
    assert {loop.person(x) for x in (A, B, C)} == {pid(C)}
    loop.run(evidence(B, C, "customer_id", "c", POLICY, state="withdrawn"))
    assert (loop.person(A), loop.person(B), loop.person(C)) == (pid(A), pid(A), pid(C))


@pytest.mark.parametrize("seed", SEEDS)
def test_an_unmerge_restores_both_persons_and_blocks_the_pair_for_good(seed: int) -> None:
    loop = Loop(POLICY, seed=seed).run([born(A, 0), born(B, 5), *evidence(A, B, "email_hash", "e", POLICY)])
    assert loop.person(B) == pid(A)
    loop.run([UnmergeRequest(account=B, request_id="u1", requested_by="ops", reason="support ticket",
                             requested_at=at(60))])
    assert (loop.person(A), loop.person(B)) == (pid(A), pid(B))
    assert list(loop.states[A].blocked) == [B] and list(loop.states[B].blocked) == [A]
    assert loop.changes()[B].kind == "unmerge"
    loop.run([*evidence(A, B, "customer_id", "c", POLICY), *evidence(A, B, "phone_hash", "p", POLICY)])
    assert (loop.person(A), loop.person(B)) == (pid(A), pid(B))
    assert loop.links()[(A, B)].status == loop.links()[(B, A)].status == "removed"


@pytest.mark.parametrize("seed", SEEDS)
def test_an_earlier_event_moves_the_person_to_the_account_now_earliest(seed: int) -> None:
    loop = Loop(POLICY, seed=seed).run([born(A, 10), born(B, 5), born(C, 7),
                                        *evidence(A, B, "email_hash", "e", POLICY),
                                        *evidence(A, C, "email_hash", "f", POLICY)])
    assert {loop.person(x) for x in (A, B, C)} == {pid(B)}
    loop.run([(event(A, 1, "login"), [])])
    assert {loop.person(x) for x in (A, B, C)} == {pid(A)}
    assert loop.changes()[A].kind == "merge" and loop.changes()[A].reason == "earlier_birth"


def _merged_pair() -> tuple[AccountState, AccountState]:
    """A (born at 0) and B merged on both sides, each still its own person (no label yet)."""
    a, _, _ = observe(None, event(A, 0, "registration"), [], POLICY, T0)
    b, _, _ = observe(None, event(B, 10, "registration"), [], POLICY, T0)
    for r in evidence(A, B, "email_hash", "e", POLICY):
        if r.account == A:
            a, _, _ = decide_inbox(a, r, POLICY, T0)
        else:
            b, _, _ = decide_inbox(b, r, POLICY, T0)
    return a, b


def _label(sender: str, to: str, generation: int, minutes: float, person: str) -> PersonLabel:
    return PersonLabel(account=to, sender=sender, generation=generation, person_id=pid(person),
                       person_account=person, birth=at(minutes))


def test_a_label_from_an_account_not_merged_with_is_ignored() -> None:
    state, outputs, outcome = decide_inbox(None, _label(B, A, 0, 0, B), POLICY, T0)
    assert (outputs, outcome, state.person_id) == ([], Outcome.DUPLICATE, pid(A))


def test_a_better_label_is_taken_a_worse_one_answered_once_an_equal_one_not_at_all() -> None:
    a, _ = _merged_pair()
    a, outputs, _ = decide_inbox(a, _label(B, A, 0, -5, C), POLICY, T0)
    assert a.person_id == pid(C)
    assert [type(o.record).__name__ for o in outputs] == ["PersonChange"]  # B has it already
    _, outputs, outcome = decide_inbox(a, _label(B, A, 0, 5, B), POLICY, T0)  # worse: answered
    assert outcome is Outcome.DUPLICATE
    assert [(o.key, o.record.person_account) for o in outputs] == [(B, C)]  # type: ignore[attr-defined]
    _, outputs, outcome = decide_inbox(a, _label(B, A, 0, -5, C), POLICY, T0)  # equal: quiet
    assert (outputs, outcome) == ([], Outcome.DUPLICATE)


def test_a_higher_generation_resets_to_oneself_before_comparing() -> None:
    a, _ = _merged_pair()
    a, _, _ = decide_inbox(a, _label(B, A, 0, -100, C), POLICY, T0)
    assert a.person_id == pid(C)
    # Generation 1 from B naming B (born at 10): C's label is forgotten and A, born at 0, wins.
    a, outputs, _ = decide_inbox(a, _label(B, A, 1, 10, B), POLICY, T0)
    assert (a.label.generation, a.person_id) == (1, pid(A))
    sent = [(o.key, o.record.person_account) for o in outputs if isinstance(o.record, PersonLabel)]
    assert sent == [(B, A)]
    # And a lower generation is answered with the current label.
    _, outputs, _ = decide_inbox(a, _label(B, A, 0, -100, C), POLICY, T0)
    assert [(o.record.generation, o.record.person_account) for o in outputs] == [(1, A)]  # type: ignore[attr-defined]


def test_a_block_from_the_other_side_is_final() -> None:
    a, _ = _merged_pair()
    block = IdentityEvidence(account=A, other=B, identifier="unmerge|u1", kind="email_hash",
                             state="blocked", weight=0.0, at=at(1))
    a, outputs, _ = decide_inbox(a, block, POLICY, T0)
    assert a.links[B].status == "removed" and a.label.generation == 1
    _, outputs, outcome = decide_inbox(a, block, POLICY, T0)
    assert (outputs, outcome) == ([], Outcome.DUPLICATE)
