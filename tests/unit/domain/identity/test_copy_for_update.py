"""copy_for_update copies every container of an account's state, so a decision that changes
its copy leaves the caller's state as it was (how a record that changes nothing is seen)."""

from __future__ import annotations

from clickpath.domain.identity.account_state import AccountState, copy_for_update, fresh_state
from clickpath.domain.identity.policy import IdentityPolicy


def test_every_container_field_is_a_copy_and_the_rest_is_equal() -> None:
    state = fresh_state("brand-a:p1", "brand-a", IdentityPolicy())
    copied = copy_for_update(state)
    assert copied == state
    containers = [name for name, value in state.__dict__.items() if isinstance(value, dict | list)]
    assert set(containers) >= {"sent", "evidence", "links", "candidates", "claimants"}
    for name in containers:  # a container field added later and not copied fails here
        assert getattr(copied, name) is not getattr(state, name), name
    assert set(AccountState.model_fields) >= set(containers)


def test_a_nested_evidence_table_is_copied_too() -> None:
    state = fresh_state("brand-a:p1", "brand-a", IdentityPolicy())
    state.evidence["brand-b:q1"] = {}
    copied = copy_for_update(state)
    copied.evidence["brand-b:q1"]["x"] = None  # type: ignore[assignment]
    assert state.evidence["brand-b:q1"] == {}
