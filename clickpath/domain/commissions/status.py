"""Each player's status for their affiliate, with reason codes: why the player does or does not
earn the affiliate a CPA (docs/affiliate-api.md). What the portal shows per player.

`player_status` is a pure function of what the commission stage holds about the player (the
newest qualification, their place under the monthly cap, the set of flags seen), none of
which depends on the order records came in, so neither does the status. `note_status` sends an
`AffiliatePlayerStatus` only when the status, its reasons or the standing CPA change: a CPA
evaluation that moves nothing sends nothing (the stage's cost stays per change, not per
event). Never a raw player id: the per-affiliate token only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

import orjson

from clickpath.contracts.models.commissions import (
    AffiliatePlayerStatus,
    PlayerStatus,
    QualificationStatus,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.commissions.run import Run
from clickpath.domain.commissions.state import FlagMark, PlayerRow, QualificationRow, player_key
from clickpath.domain.outputs import Output
from clickpath.domain.pseudonym import player_token

# Flag kinds (later issues' fraud and CRM signals) shown to the affiliate as a reason of their
# own; other kinds show only as what they do (fraud_hold, fraud_clawback), their detail kept in.
CODED_KINDS = frozenset({"duplicate_account", "self_excluded"})
REASON_CODES: dict[str, str] = {
    "ftd_below_minimum": "the first deposit is below the plan's minimum (or none yet)",
    "deposits_below_minimum": "the deposits add up to less than the plan's minimum",
    "kyc_missing": "the player's KYC is not verified",
    "wagering_below_minimum": "the player wagered less than the plan's minimum",
    "outside_window": "a rule was met only after the plan's window from registration",
    "monthly_cap": "qualified over the affiliate's monthly CPA cap: recorded with amount 0",
    "chargeback": "a deposit the qualification rested on was charged back (CPA clawed back)",
    "deposit_reversed": "a deposit the qualification rested on was refunded or cancelled"
    " (CPA clawed back)",
    "fraud_hold": "a hold flag is in effect: the CPA and NGR are out until it is released",
    "fraud_clawback": "a clawback flag took the CPA (within the clawback window) and NGR back",
    "duplicate_account": "flagged as a duplicate of another account",
    "self_excluded": "the player self-excluded",
    "retag": "the player now belongs to another affiliate",
    "no_plan": "no plan with a CPA pays this affiliate for the player",
    "fx_rate_missing": "no FX rate in effect prices the CPA yet",
}
"""Every reason code a status may carry, and what it means (docs/affiliate-api.md)."""
_BASE: dict[str, PlayerStatus] = {
    "qualified": "qualified", "pending": "pending", "reversed": "reversed",
    "none": "not_attributed",
}


def flag_verdict(
    flags: Mapping[str, FlagMark],
) -> tuple[Literal["clear", "held", "clawed"], frozenset[str]]:
    """What the flags seen say (as PlayerRow.fraud: the earliest clawback for good, else the
    latest hold/release by (flagged_at, flag_id)), and the kinds of the flags in effect: every
    clawback's, or the holds' since the latest release."""
    clawbacks = [m for m in flags.values() if m.action == "clawback"]
    if clawbacks:
        return "clawed", frozenset(m.kind for m in clawbacks if m.kind)
    marks = sorted((m.flagged_at, fid, m.action) for fid, m in flags.items())
    if not marks or marks[-1][2] != "hold":
        return "clear", frozenset()
    released = max(((at, fid) for at, fid, action in marks if action == "release"), default=None)
    kinds = frozenset(
        m.kind for fid, m in flags.items()
        if m.action == "hold" and m.kind and (released is None or (m.flagged_at, fid) > released)
    )
    return "held", kinds


def player_status(
    qualification: QualificationStatus,
    reason: str | None,
    over_cap: bool,
    flags: Mapping[str, FlagMark],
    cpa_kept: bool = False,
) -> tuple[PlayerStatus, list[str]]:
    """The status and its reason codes (sorted) for a player whose newest qualification is
    `qualification` (with `reason`), over the period's monthly cap or not, under `flags`.

    The qualification gives the base (qualified, pending with the first unmet rule, reversed
    with its cause, not_attributed when the player left the affiliate or no plan pays CPA); a
    fraud clawback makes it reversed (unless `cpa_kept`: it came after the plan's clawback
    window, the CPA stands, only the NGR went), an active hold makes a qualified or pending
    player held (a reversal is final, a player gone stays gone). Coded flag kinds add their
    own reason."""
    status = _BASE[qualification]
    reasons: set[str] = set()
    if reason and qualification != "qualified":
        reasons.add(reason)
    if over_cap:
        reasons.add("monthly_cap")
    verdict, kinds = flag_verdict(flags)
    if verdict == "clawed":
        reasons.add("fraud_clawback")
        if status != "not_attributed" and not cpa_kept:
            status = "reversed"
    elif verdict == "held":
        reasons.add("fraud_hold")
        if status in ("qualified", "pending"):
            status = "held"
    reasons |= kinds & CODED_KINDS
    return status, sorted(reasons)


def note_status(
    run: Run, person_id: str, row: QualificationRow, *, over_cap: bool, amount: Decimal,
    unpriced: bool = False, cpa_kept: bool = False,
) -> None:
    """Send the player's status when it differs from the one last sent (row.status_digest);
    `amount` is the CPA that stands now (payout currency), `unpriced` when no FX rate prices
    it yet (reason fx_rate_missing), `cpa_kept` when a clawback flag came too late to take it."""
    key = player_key(person_id)
    flags = run.row(key, PlayerRow).flags if run.exists(key) else {}  # no empty row written
    status, reasons = player_status(row.status, row.reason, over_cap, flags, cpa_kept)
    if unpriced:
        reasons = sorted({*reasons, "fx_rate_missing"})
    record = AffiliatePlayerStatus(
        affiliate_id=run.affiliate_id,
        player_token=player_token(run.policy.pseudonym_key, run.affiliate_id, person_id),
        brand_id=row.brand_id, campaign_id=row.campaign_id, registered_at=row.registered_at,
        status=status, reasons=reasons, cpa_amount=amount, currency=run.currency,
        qualified_at=row.qualified_at, shares_data=row.shares_data,
        version=row.status_version + 1, updated_at=run.now,
    )
    said = record.model_dump(mode="json", exclude={"version", "updated_at"})
    digest = hashlib.sha256(orjson.dumps(said, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    if digest == row.status_digest:
        return
    row.status_digest, row.status_version = digest, record.version
    run.statuses[person_id] = Output(Topic.AFFILIATE_PLAYERS, run.affiliate_id, record)
