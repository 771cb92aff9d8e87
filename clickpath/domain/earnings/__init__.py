"""The earnings stage's domain: per brand account, each player's value per commission period
and their CPA qualification, from the player stage's outputs only.

It reads the player stage's canonical events (the ingress event in `payload`) and profiles (the
current tag and the FTD), re-applies the money events with the shared functions
(domain/money.py over a `PeriodBook` on its own ledger rows, without day rows or FTD search),
so its lines are exactly the player stage's and a canonical event sent again counts once
(natural keys). Pure: `decide_earnings(state, record, policy, now,
ledger=...)` returns `(state, outputs, outcome)`; `replay_earnings` sends again what a record
already applied would have sent; `wants_record` skips the click stage's canonical clicks, and
`wants_kind` every event type it never acts on, before it is decoded.

By role: `state` (what is stored, the policy, periods and time), `values` (period rows and
PlayerPeriodValue), `evidence` (what qualification is judged on), `qualify` (the CPA rules by
event time), `decide`, `replay`.
"""

from clickpath.domain.earnings.decide import decide_earnings, wants_kind, wants_record
from clickpath.domain.earnings.replay import replay_earnings
from clickpath.domain.earnings.state import EarningsPolicy, EarningsState, period_of

__all__ = [
    "EarningsPolicy", "EarningsState", "decide_earnings", "period_of", "replay_earnings",
    "wants_kind", "wants_record",
]
