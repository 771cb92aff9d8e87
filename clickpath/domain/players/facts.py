"""The player's funnel facts: cumulative per (day, currency), replaced by a newer `version`.

A fact is the player's whole contribution to one day and currency (registration, FTD, the
day's value from domain/day_value.py) under the player's current tag, so a fact sent again
replaces the older one downstream and nothing is counted twice however often it is re-sent
(a re-tag, a replay). What the state marks itself (registration day, FTD day) is read from the
state; everything else from the day rows `D|` and the day index `I` of the player's ledger.
"""

from __future__ import annotations

from decimal import Decimal

from clickpath.contracts.models import Attribution, PlayerDayFact, PlayerEvent, Registration
from clickpath.contracts.topics import Topic
from clickpath.domain.day_value import DayTotals, day_totals
from clickpath.domain.ledger import Ledger
from clickpath.domain.ledger_rows import DAY_INDEX, day_of_row
from clickpath.domain.money import FactKey
from clickpath.domain.outputs import Output
from clickpath.domain.players.state import PlayerState, Tag

FactValue = dict[str, int | Decimal]
_ZERO: FactValue = {}


def fact_keys(state: PlayerState) -> set[FactKey]:
    """The (day, currency) keys the state itself marks: registration day and FTD day."""
    keys: set[FactKey] = set()
    if state.registered_at is not None:
        keys.add((state.registered_at.date(), ""))
    if state.first_deposit is not None:
        keys.add((state.first_deposit.occurred_at.date(), state.first_deposit.currency))
    return keys


def keys_of(record: PlayerEvent | Attribution) -> set[FactKey]:
    """The fact keys a registration or attribution may change besides the state's own."""
    if isinstance(record, Registration):
        return {(record.occurred_at.date(), "")}
    if isinstance(record, Attribution):
        return {(record.registered_at.date(), "")}
    return set()


def all_fact_keys(state: PlayerState, ledger: Ledger) -> set[FactKey]:
    """Every key the player has a fact for. Reads the day index `I` (a re-tag or replay only)."""
    index = ledger.get(DAY_INDEX) or {"days": []}
    return fact_keys(state) | {day_of_row(row) for row in index["days"]}


def funnel_facts(
    state: PlayerState, ledger: Ledger, keys: set[FactKey]
) -> dict[FactKey, FactValue]:
    """The player's contribution for `keys`: registration, FTD and the day's value
    (domain/day_value.py); a key with nothing left has all zeros. Reads the day rows `D|`."""
    facts: dict[FactKey, FactValue] = {}
    first = state.first_deposit
    reg_key = (state.registered_at.date(), "") if state.registered_at else None
    for day, currency in keys:
        totals = day_totals(ledger, day, currency) if currency else DayTotals()
        is_ftd = first is not None and (day, currency) == first.key
        value: FactValue = {
            "registrations": 1 if (day, currency) == reg_key else 0,
            "ftds": 1 if is_ftd else 0,
            "ftd_sum": first.amount if first is not None and is_ftd else Decimal(0),
            **totals.model_dump(exclude={"approved_ever"}),
        }
        facts[(day, currency)] = value
    return facts


def _is_zero(value: FactValue) -> bool:
    return not any(value.values())


def changed_facts(
    state: PlayerState, ledger: Ledger, keys: set[FactKey], before: dict[FactKey, FactValue],
    retag: bool, replay: bool = False,
) -> list[Output]:
    """The facts of `keys` that differ from `before` (`retag`: every one that is not all zeros;
    `replay`: every one, zeros too, since the run that emptied a day may have lost its zero fact
    to a crash, and the fact it replaces would keep counting a refunded deposit). Reads the day
    rows `D|` of `keys`."""
    tag = state.tag or Tag(status="unattributed")
    outputs = []
    for (day, currency), value in sorted(funnel_facts(state, ledger, keys).items()):
        if retag and not replay and _is_zero(value):
            continue  # a day emptied earlier has had its zero fact already
        if not retag and before.get((day, currency), _ZERO) == value:
            continue  # unchanged (a key that had nothing and still has nothing too)
        fact = PlayerDayFact(
            person_id=state.person_id,
            brand_id=state.brand_id,
            day=day,
            currency=currency,
            affiliate_id=tag.affiliate_id,
            campaign_id=tag.campaign_id,
            version=state.version,
            registered_at=state.registered_at,
            **value,
        )
        outputs.append(Output(Topic.PLAYER_DAY_FACTS, state.person_id, fact))
    return outputs
