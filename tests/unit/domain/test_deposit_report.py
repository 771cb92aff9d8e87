"""The `P|` row of a deposit as a model: rows stored before the model still load and mean the
same, and the stage writes them exactly as it did."""

from __future__ import annotations

from typing import Any

import pytest

from clickpath.contracts.models import Postback
from clickpath.contracts.topics import Topic
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.ledger_rows import RowKind, deposit_report_row, kind_of
from clickpath.domain.players import PlayerPolicy, decide_player, replay_outputs
from clickpath.domain.players.deposits import DepositReport
from tests.factories import at, deposit, registration
from tests.unit.domain.test_consent import consent
from tests.unit.domain.test_deposit_postbacks import attribution, chargeback

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(1000)

# Golden: the P| rows the code before the model (a loose dict) wrote for STORY, captured from
# it: an FTD sent then reversed, a deposit sent whose reversal was suppressed (consent
# withdrawn), a deposit suppressed.
STORED = {
    "P|t1": {"ftd": "sent", "chargeback": "sent", "chargeback_at": "2026-11-01T12:30:00+00:00"},
    "P|t2": {"deposit": "sent", "chargeback": "suppressed",
             "chargeback_at": "2026-11-01T12:33:00+00:00"},
    "P|t3": {"deposit": "suppressed"},
}
STORY = [
    registration("p1", "c1"), attribution(), deposit("p1", "t1", "50", minutes=2),
    deposit("p1", "t2", "20", minutes=3), chargeback("t1", minutes=30, amount="50"),
    consent("affiliate_data_sharing", False, 31), deposit("p1", "t3", "5", minutes=32),
    chargeback("t2", minutes=33),
]


def play(ledger: MemoryLedger):
    state = None
    for record in STORY:
        state, _, _ = decide_player(state, record, POLICY, NOW, ledger=ledger)
    assert state is not None
    return state


@pytest.mark.parametrize("row", STORED.values(), ids=STORED.keys())
def test_a_row_stored_before_the_model_loads_and_is_written_back_unchanged(row: dict[str, Any]) -> None:
    assert DepositReport.model_validate(row).row() == row


def test_the_stage_writes_the_rows_it_wrote_before() -> None:
    ledger = MemoryLedger()
    play(ledger)
    reports = {row: value for row, value in ledger.rows.items()
               if kind_of(row) is RowKind.DEPOSIT_REPORT}
    assert reports == STORED


def test_a_stored_reversal_is_replayed_at_its_own_time_and_not_made_again() -> None:
    ledger = MemoryLedger()
    state = play(ledger)
    ledger.rows.update(STORED)  # as the old code stored them
    replayed = [o.record for o in replay_outputs(state, STORY[4], POLICY, NOW, ledger=ledger)
                if o.topic is Topic.POSTBACKS and isinstance(o.record, Postback)]
    [reversal] = [p for p in replayed if p.event == "chargeback"]
    assert (reversal.transaction_id, reversal.reverses, reversal.occurred_at) == ("t1", "ftd", at(30))
    again = chargeback("t1", minutes=40, cb_id="cb-other")
    _, outputs, _ = decide_player(state, again, POLICY, NOW, ledger=ledger)
    assert not [o for o in outputs if o.topic is Topic.POSTBACKS]
    assert ledger.rows[deposit_report_row("t1")] == STORED["P|t1"]
