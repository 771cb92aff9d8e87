"""Fraud and CRM flags: hold, release or claw back what one player earns an affiliate.

A flag is applied once (by `flag_id`). What the player's flags say is a function of the set
seen (PlayerRow.fraud), so they may arrive in any order: a hold takes the player's CPA and NGR
out of the open periods until a later release; a clawback claws the CPA back (within the plan's
clawback_days of qualifying) and takes the player's NGR out for good.
"""

from __future__ import annotations

from clickpath.contracts.models.commissions import CommissionFlag
from clickpath.domain.commissions import cpa
from clickpath.domain.commissions.revshare import recount
from clickpath.domain.commissions.run import Run
from clickpath.domain.commissions.state import (
    FlagMark,
    FlagRow,
    PlayerRow,
    flag_key,
    player_key,
    qualification_key,
)

REASONS = {"hold": "fraud_hold", "release": "fraud_release", "clawback": "fraud_clawback"}


def apply_flag(run: Run, record: CommissionFlag) -> bool:
    """Apply a flag not seen before; False for a duplicate."""
    key = flag_key(record.flag_id)
    if run.exists(key):
        return False
    run.row(key, FlagRow)
    player = run.row(player_key(record.person_id), PlayerRow)
    before = player.fraud()
    player.flags[record.flag_id] = FlagMark(action=record.action, flagged_at=record.flagged_at,
                                            kind=record.kind)
    if player.fraud() != before:
        for value in list(player.values):
            recount(run, record.person_id, value)
    if run.exists(qualification_key(record.person_id)):
        # Even when what the flags say about money did not change, a new kind may be a new
        # reason in the player's status; the CPA's entries are differences, so none is written
        cpa.evaluate(run, record.person_id)
    return True
