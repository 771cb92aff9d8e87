"""Stored state written by this version (and by every earlier state format) loads and decides.

tests/fixtures/state/<stage>.format-<N>.json hold what a stage's table held after a journey
(states, ledger rows, positions); each is restored into a fresh topology and further events are
decided against it, so a change that breaks reading older stored state fails here. To add a
format: bump the stage's STATE_FORMAT and run `python -m tests.fixtures.state.regenerate`
(its docstring says why regenerating means a bump; the older files stay and must keep passing).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clickpath.contracts.models import Attribution, CanonicalEvent, Chargeback, Click
from clickpath.contracts.models.identity import MultiAccountSignal, PersonChange
from clickpath.contracts.topics import Topic
from clickpath.devtools.topology import POLICY, PREFIX, Topology, pipeline_stages
from clickpath.domain.clicks import ClickState
from clickpath.domain.players import PlayerState
from clickpath.domain.pseudonym import player_token
from tests.factories import at, click, deposit, registration
from tests.fixtures.state.regenerate import HERE, P1, current, path_of
from tests.unit.devtools.figures import newest_facts, postbacks

GOLDEN = sorted(HERE.glob("*.format-*.json"))
STAGES = {stage.name: stage for stage in pipeline_stages()}
DAY_TWO = at(60 * 24).date()


def restored(path: Path) -> tuple[Topology, dict[str, Any]]:
    golden = json.loads(path.read_text())
    assert golden["prefix"] == PREFIX, "positions name topics by their full name"
    top = Topology()
    top.restore(golden["stage"], golden["stored"], golden["end_offsets"])
    return top, golden


def of_stage(stage: str) -> list[Path]:
    return [p for p in GOLDEN if p.name.startswith(f"{stage}.")]


def test_every_stage_has_a_golden_file_for_its_current_state_format() -> None:
    for stage in STAGES.values():
        assert path_of(stage.name, stage.state_format).exists(), (
            f"{stage.name} stores format {stage.state_format}: run "
            "python -m tests.fixtures.state.regenerate")


@pytest.mark.parametrize("path", of_stage("players"), ids=lambda p: p.name)
def test_a_stored_player_decides_its_next_events(path: Path) -> None:
    top, _ = restored(path)
    top.send_all([
        deposit("p1", "t1", "50.00", minutes=6, status="approved", event_id="crm-retry-t1"),
        Chargeback(event_id="cb1-again", occurred_at=at(60 * 24 + 10), chargeback_id="cb1",
                   transaction_id="t3", amount=Decimal("30.00"), currency="EUR", **P1),
        deposit("p1", "t4", "10.00", minutes=60 * 24 + 20),
    ])

    # The retry of t1 and the chargeback again are known from the stored ledger rows.
    canonical = [e for e in top.emitted(Topic.CANONICAL) if isinstance(e, CanonicalEvent)]
    assert [(e.event_id, e.is_ftd) for e in canonical] == [("ev-dep-t4", False)]
    # The stored tag pays aff-1 for t4, once; the FTD and the registration are not sent again.
    [sent] = postbacks(top)
    assert (sent.event, sent.transaction_id, sent.amount, sent.affiliate_id, sent.sub1) == (
        "deposit", "t4", Decimal("10.00"), "aff-1", "s1")
    assert sent.player_token == player_token(POLICY.pseudonym_key, "aff-1", "brand-a:p1")
    # Day two's stored totals carry on: t3 (charged back, still counted: gross) and t4.
    fact = newest_facts(top)[("brand-a:p1", DAY_TWO, "EUR")]
    assert (fact.deposits, fact.deposit_sum, fact.chargebacks, fact.withdrawals) == (
        2, Decimal("40.00"), 1, 1)
    assert (fact.affiliate_id, fact.ftds) == ("aff-1", 0)
    state = top.state("players", "brand-a:p1")
    assert isinstance(state, PlayerState) and state.first_deposit is not None
    assert (state.first_deposit.transaction_id, state.kyc_status) == ("t1", "verified")


@pytest.mark.parametrize("path", of_stage("clicks"), ids=lambda p: p.name)
def test_a_stored_click_decides_its_next_events(path: Path) -> None:
    top, _ = restored(path)
    top.send_all([
        click("c1", affiliate="aff-1", campaign="camp-a", sub1="s1"),  # the stored click again
        registration("p3", "c1", minutes=40),  # a second player from the stored click
        click("c9", affiliate="aff-9", campaign="camp-z", minutes=20),  # the stored pending link's
    ])

    clicks = [e for e in top.emitted(Topic.CANONICAL)
              if isinstance(e, CanonicalEvent) and e.event_type == "click"]
    assert [e.click_id for e in clicks] == ["c9"]  # c1 is a duplicate of the stored click
    decisions = {a.person_id: a for a in top.emitted(Topic.ATTRIBUTIONS)
                 if isinstance(a, Attribution)}
    assert {p: (a.status, a.affiliate_id, a.sub1) for p, a in decisions.items()} == {
        "brand-a:p3": ("attributed", "aff-1", "s1"),
        "brand-a:p2": ("attributed", "aff-9", None),
    }
    state = top.state("clicks", "c1")
    assert isinstance(state, ClickState) and isinstance(state.click, Click)
    assert state.answered_person_ids == ["brand-a:p1", "brand-a:p3"]


def test_this_version_stores_what_its_formats_golden_file_holds() -> None:
    """A change to what a stage stores shows here first: if it is deliberate, it is a new
    state format (bump STATE_FORMAT, regenerate), and the old file must still pass above."""
    for path, content in current().items():
        golden = json.loads(path.read_text())
        assert content["stored"] == golden["stored"], (
            f"{path.name}: this version stores something else for the same journey; bump the"
            " stage's STATE_FORMAT and run python -m tests.fixtures.state.regenerate")


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stored_state_reads_and_writes_back_without_losing_a_field(stage: str) -> None:
    """A field renamed or dropped would be silently ignored on load (and lost at the next
    write): every state of the current format comes back whole through its stage's model (an
    older format may have dropped a field deliberately)."""
    golden = json.loads(path_of(stage, STAGES[stage].state_format).read_text())
    model = STAGES[stage].state_model
    for key, value in golden["stored"].items():
        if "state" in value:
            assert model.model_validate(value["state"]).model_dump(mode="json") == value["state"], key


def test_stored_identity_graph_decides_a_second_account_from_the_stored_click() -> None:
    """The account and identifier stages' stored state, restored together: a second brand-a
    player named by the stored click c1 shares it with the stored p1, which is a multi-account
    signal at one brand and never a merge."""
    top = Topology()
    for stage in ("identity", "identifiers"):
        golden = json.loads(path_of(stage, STAGES[stage].state_format).read_text())
        top.restore(stage, golden["stored"], golden["end_offsets"])
    top.send_all([registration("p3", "c1", minutes=40)])

    signals = [s for s in top.emitted(Topic.IDENTITY_SIGNALS) if isinstance(s, MultiAccountSignal)]
    assert {(tuple(s.accounts), s.status) for s in signals} == {
        (("brand-a:p1", "brand-a:p3"), "open")}
    assert all("click_id" in s.reasons for s in signals)
    changes = [c for c in top.emitted(Topic.IDENTITY_PERSONS) if isinstance(c, PersonChange)]
    assert not [c for c in changes if c.kind == "merge"]
