"""What the player's profile says of their activity (domain/profile.py reads it).

Kept apart from the decision because it is a summary, not a rule: min, max and counts, so it is
the same whatever the order the events arrive in. Reads and writes no ledger row.
"""

from __future__ import annotations

from clickpath.contracts.models import Kyc, Login, PlayerEvent
from clickpath.domain.players.state import PlayerState


def note_activity(state: PlayerState, event: PlayerEvent) -> None:
    """Count an accepted event: first and last activity, sessions, the newest KYC status."""
    at = event.occurred_at
    state.activity_events += 1
    if state.first_activity_at is None or at < state.first_activity_at:
        state.first_activity_at = at
    if state.last_activity_at is None or at > state.last_activity_at:
        state.last_activity_at = at
    if isinstance(event, Login):
        state.sessions += 1
    elif isinstance(event, Kyc) and (state.kyc_at is None or at >= state.kyc_at):
        state.kyc_status, state.kyc_at = event.status, at
