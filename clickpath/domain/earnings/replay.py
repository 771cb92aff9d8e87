"""What the earnings stage sends again for a record it already applied (after a crash).

Every record it sends is cumulative and the newest `version` wins downstream, so sending the
current state again is safe: every period value and the current qualification under the
current affiliate, and the re-tag's zeros under the former one. Reads every `M|` of
`state.periods`; writes no row.
"""

from __future__ import annotations

from datetime import datetime

from clickpath.contracts.models import CanonicalEvent, PlayerProfile
from clickpath.domain.earnings.decide import qualification_output, retag_away
from clickpath.domain.earnings.state import EarningsPolicy, EarningsState
from clickpath.domain.earnings.values import value_record
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Output


def replay_earnings(
    state: EarningsState,
    record: CanonicalEvent | PlayerProfile,
    policy: EarningsPolicy,
    now: datetime,
    *,
    ledger: Ledger,
) -> list[Output]:
    if not state.attributed:
        return []
    if isinstance(record, PlayerProfile):
        caused_by, at = [], record.updated_at
    else:
        caused_by, at = [record.event_id], record.occurred_at
    outputs = [value_record(state, ledger, key, state.affiliate_id, caused_by, "replay", at)
               for key in state.periods]
    if state.qualification is not None:
        outputs.append(qualification_output(state, state.qualification))
    if state.former_affiliate_id and state.former_affiliate_id != state.affiliate_id:
        outputs += retag_away(state, ledger, state.former_affiliate_id, at)
    return outputs
