"""A pair's score, status, link and signal, from the evidence one account holds."""

from __future__ import annotations

import pytest

from clickpath.contracts.models.identity import IdentityLink, MultiAccountSignal
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.account_state import AccountState
from clickpath.domain.identity.accounts import decide_inbox
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.outputs import Outcome, Output
from tests.unit.domain.identity.inbox_loop import T0, evidence

POLICY = IdentityPolicy()
A, B, A2 = "brand-a:p1", "brand-b:p1", "brand-a:p2"


def apply(state: AccountState | None, *records: object) -> tuple[AccountState, list[Output]]:
    outputs: list[Output] = []
    for r in records:
        state, outs, _ = decide_inbox(state, r, POLICY, T0)  # type: ignore[arg-type]
        outputs += outs
    assert state is not None
    return state, outputs


def mine(*kinds_values: tuple[str, str], me: str = A, other: str = B, state: str = "shared") -> list[object]:
    """The evidence `me` gets of `other` for each (kind, value)."""
    return [evidence(me, other, k, v, POLICY, state)[0] for k, v in kinds_values]  # type: ignore[arg-type]


def links(outputs: list[Output]) -> list[IdentityLink]:
    return [o.record for o in outputs if isinstance(o.record, IdentityLink)]


def signals(outputs: list[Output]) -> list[MultiAccountSignal]:
    return [o.record for o in outputs if isinstance(o.record, MultiAccountSignal)]


@pytest.mark.parametrize(("kinds", "score", "status"), [
    (["device_id"], 3.17, "possible"),
    (["device_id", "ua_family"], 7.34, "merged"),
    (["device_id", "ip_prefix"], 12.62, "merged"),
    (["ip_prefix", "ua_family"], 0.33, "possible"),
    (["email_hash"], -13.29, "merged"),
])
def test_the_scores_of_docs_identity_md_across_brands(kinds: list[str], score: float, status: str) -> None:
    state, outputs = apply(None, *mine(*[(k, "v1") for k in kinds]))
    link = state.links[B]
    assert (round(link.score, 2), link.status) == (score, status)
    assert link.reasons["prior"] == pytest.approx(-13.29, abs=0.01)
    assert set(link.reasons) == {"prior", *kinds}
    assert links(outputs)[-1] == link


def test_two_identifiers_of_one_kind_count_once_with_the_rarer_weight() -> None:
    policy_freq = IdentityPolicy(frequencies={"device_id": {"rare": 1e-7}})
    state = None
    for rec in (evidence(A, B, "device_id", "common", policy_freq)[0],
                evidence(A, B, "device_id", "rare", policy_freq)[0]):
        state, _, _ = decide_inbox(state, rec, policy_freq, T0)
    assert state is not None
    assert state.links[B].reasons["device_id"] == pytest.approx(policy_freq.weight_of("device_id", "rare"))
    assert state.links[B].score == pytest.approx(policy_freq.prior_weight()
                                                 + policy_freq.weight_of("device_id", "rare"))


def test_a_link_is_emitted_only_when_it_changes_with_its_version_up() -> None:
    device, ua = mine(("device_id", "d"), ("ua_family", "u"))
    state, outputs = apply(None, device, device, ua, ua)
    assert [(x.status, x.version) for x in links(outputs)] == [("possible", 1), ("merged", 2)]
    _, _, outcome = decide_inbox(state, ua, POLICY, T0)
    assert outcome is Outcome.DUPLICATE


def test_withdrawn_is_final_for_the_identifier_and_a_removed_link_says_so() -> None:
    device, ua = mine(("device_id", "d"), ("ua_family", "u"))
    (gone,) = mine(("device_id", "d"), state="withdrawn")
    state, outputs = apply(None, device, ua, gone, device)
    assert [x.status for x in links(outputs)] == ["possible", "merged", "possible"]
    assert "d" not in str(state.links[B].reasons) and set(state.links[B].reasons) == {"prior", "ua_family"}
    (ua_gone,) = mine(("ua_family", "u"), state="withdrawn")
    state, outputs = apply(state, ua_gone)
    assert [(x.status, x.reasons) for x in links(outputs)] == [("removed", {"prior": POLICY.prior_weight()})]


def test_a_withdrawal_that_comes_first_leaves_nothing_to_link() -> None:
    (gone,) = mine(("email_hash", "e"), state="withdrawn")
    (email,) = mine(("email_hash", "e"))
    state, outputs = apply(None, gone, email)
    assert outputs == [] and state.links == {}


def test_a_withdrawal_reaches_every_pair_that_rested_on_the_identifier() -> None:
    c = "brand-c:p1"
    records = [*mine(("email_hash", "e")), *mine(("email_hash", "e"), other=c)]
    (gone,) = mine(("email_hash", "e"), state="withdrawn")
    state, outputs = apply(None, *records, gone)
    assert {o: x.status for o, x in state.links.items()} == {B: "removed", c: "removed"}


def test_within_a_brand_nothing_merges_and_a_device_raises_one_signal() -> None:
    state, outputs = apply(None, *mine(("device_id", "d"), ("ua_family", "u"), other=A2))
    assert state.links[A2].status == "possible"
    sigs = signals(outputs)
    assert [(s.status, s.accounts, s.kind, s.brand_id) for s in sigs][0] == (
        "open", [A, A2], "multi_account", "brand-a")
    assert sigs[-1].score == pytest.approx(7.34, abs=0.01) and sigs[-1].version == 2
    assert {o.key for o in outputs if o.topic is Topic.IDENTITY_SIGNALS} == {"brand-a"}
    # The other account of the pair sorts second: it links, but never sends the signal.
    other, outputs = apply(None, *mine(("device_id", "d"), me=A2, other=A))
    assert other.links[A].status == "possible" and signals(outputs) == []


def test_within_a_brand_ip_and_user_agent_are_possible_without_a_signal() -> None:
    state, outputs = apply(None, *mine(("ip_prefix", "i"), ("ua_family", "u"), other=A2))
    assert state.links[A2].status == "possible" and signals(outputs) == []


def test_a_signal_is_withdrawn_when_its_evidence_goes() -> None:
    state, _ = apply(None, *mine(("customer_id", "c"), ("ip_prefix", "i"), other=A2))
    state, outputs = apply(state, *mine(("customer_id", "c"), other=A2, state="withdrawn"))
    (sig,) = signals(outputs)
    assert (sig.status, sig.version, set(sig.reasons)) == ("withdrawn", 3, {"prior", "ip_prefix"})
    assert state.links[A2].status == "possible"


def test_the_two_sides_of_a_pair_agree() -> None:
    records = evidence(A, B, "device_id", "d", POLICY) + evidence(A, B, "ip_prefix", "i", POLICY)
    a, _ = apply(None, *[r for r in records if r.account == A])
    b, _ = apply(None, *[r for r in reversed(records) if r.account == B])
    assert (a.links[B].status, a.links[B].score, a.links[B].reasons) == (
        b.links[A].status, b.links[A].score, b.links[A].reasons)


def test_evidence_about_oneself_or_nobody_changes_nothing() -> None:
    (self_ev,) = mine(("device_id", "d"), other=A)
    state, outputs, outcome = decide_inbox(None, self_ev, POLICY, T0)
    assert (outputs, outcome, state.links) == ([], Outcome.DUPLICATE, {})
