"""The commission stage's domain: per-affiliate state, the plans applied, the ledger written.

Every earnings record (PlayerPeriodValue, PlayerQualification) and commission flag of an
affiliate lands here keyed by `affiliate_id`. `decide_commissions(state, record, policy, now,
ledger=ledger)` returns `(state, outputs, outcome)`; `replay_commissions` sends again what a
record already applied wrote. Pure: the time and the rows come in as arguments.

Every entry is a difference: what is due now, computed exactly and rounded to the payout
currency's minor unit (half to even), minus what the bucket's entries already sum to. So every
total is the exact sum of its entries, a record applied twice (same or older version) writes
nothing, and the same records in any order end at the same net amounts.

By role: `policy` (what decisions run under; periods, conversion, rounding), `state` (the
state and its ledger rows), `run` (one decision's rows and entries), `cpa`, `revshare`
(with carry-over and the parent's share), `flags`, `decide`. `statements` (helper "ledger")
reads the entries.
"""

from clickpath.domain.commissions.decide import (
    CommissionRecord,
    decide_commissions,
    key_of,
    replay_commissions,
)
from clickpath.domain.commissions.policy import CommissionPolicy
from clickpath.domain.commissions.state import AffiliateState
from clickpath.domain.plans import period_of

__all__ = [
    "AffiliateState",
    "CommissionPolicy",
    "CommissionRecord",
    "decide_commissions",
    "key_of",
    "period_of",
    "replay_commissions",
]
