"""What the player stage sends again for a record it has already applied (read after a crash).

A crash can keep the state written with a record and lose the outputs sent with it, and the
replayed record then looks like a duplicate to the decision. Kept apart from the decision
because it must change nothing: it only reads the state and the ledger.
"""

from __future__ import annotations

from datetime import datetime

from clickpath.contracts.models import Attribution, PlayerEvent, Registration
from clickpath.contracts.topics import Topic
from clickpath.domain import recent_ids
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Output, canonical_of
from clickpath.domain.players.conversions import resend_conversions
from clickpath.domain.players.decide import click_links
from clickpath.domain.players.deposits import money_postbacks
from clickpath.domain.players.facts import all_fact_keys, changed_facts
from clickpath.domain.players.state import PlayerPolicy, PlayerState


def replay_outputs(
    state: PlayerState,
    record: PlayerEvent | Attribution,
    policy: PlayerPolicy,
    now: datetime,
    linked: bool = False,
    *,
    ledger: Ledger,
) -> list[Output]:
    """What to send again for a record `state` has already applied.

    Every output is idempotent downstream (canonical events by event id, facts by version,
    postbacks by postback id), so sending the record's outputs and the player's current facts
    and postbacks again is safe.

    Rows: reads the day index `I` and every day `D|` (all facts), and for a deposit or
    chargeback its `T|d|` and `P|` rows (for an attribution, every deposit's); writes none.
    """
    outputs: list[Output] = []
    if isinstance(record, PlayerEvent) and recent_ids.seen(state.recent_ids, record.event_id):
        first = state.first_deposit
        is_ftd = first is not None and first.event_id == record.event_id
        canonical = canonical_of(record, state.person_id, now, is_ftd)
        outputs.append(Output(Topic.CANONICAL, state.person_id, canonical))
        if (
            isinstance(record, Registration)
            and not linked
            and record.event_id == state.registration_event_id
        ):
            outputs += click_links(state, record)
    outputs += changed_facts(state, ledger, all_fact_keys(state, ledger), {}, retag=True,
                             replay=True)
    outputs += resend_conversions(state, policy)
    outputs += money_postbacks(state, ledger, record, policy, now, replay=True)
    return outputs
