"""The player stage's domain: per-player state and the one decision function that advances it.

Every event about a player, and the attribution decided for them, lands here keyed by
`person_id`. The function is pure, `decide_player(state, record, policy, now, linked,
ledger=ledger)` returning `(state, outputs, outcome)`: `now`, the processing time stamped on
some outputs, comes from the caller's clock, and the player's ledger rows come in as `ledger`,
so a decision depends on its arguments only (it reads and writes rows only through `ledger`;
each function says which).

Correct whatever the arrival order (docs/architecture.md):
- the FTD is the deposit with the earliest event time seen so far, not the first to arrive;
- the funnel contribution is published as cumulative per-day facts that a newer `version`
  replaces, so a deposit counted before its registration's attribution was known is re-counted
  under the right affiliate when the attribution arrives, never twice;
- postbacks go out once each (registration, FTD; each other approved deposit; the reversal of
  a deposit behind a sent conversion) as soon as both the conversion and an attribution to an
  affiliate are known.

Dedup: the event id within a bounded per-player window (`recent_ids`), and natural keys
forever: one registration per player, one deposit per `transaction_id`.

The state stays small for life: what grows with a player's history (every transaction id, the
totals of every deposit day) lives in the player's ledger rows (`clickpath.domain.ledger`, keys
in `clickpath.domain.ledger_rows`), passed beside the state, never inside it: the agent backs the
ledger with its table (`StoredLedger`), a test with a dict (`MemoryLedger`).

By role: `state` (what is stored), `decide` (dedup, registration, tagging: the decision),
`facts` (the per-day funnel facts), `conversions` (registration and FTD postbacks, revocations,
suppressions), `deposits` (deposit postbacks and reversals, and their `P|` rows), `outbox` (the
player's postbacks through the shared builder), `replay` (outputs sent again after a crash),
`activity` (what the profile says of the player's activity).
"""

from clickpath.domain.players.decide import decide_player
from clickpath.domain.players.replay import replay_outputs
from clickpath.domain.players.state import PlayerPolicy, PlayerState, Tag

__all__ = ["PlayerPolicy", "PlayerState", "Tag", "decide_player", "replay_outputs"]
