"""The earnings decision: one canonical event or profile of the player stage advances the
player's earnings.

Reads and writes rows only through `ledger`: a money event its natural-key rows
(domain/money.py), its period row `M|` and the evidence `Q|` it changes; a re-tag or a replay
reads every `M|` of `state.periods`.
"""

from __future__ import annotations

from datetime import datetime
from typing import get_args

import orjson

from clickpath.contracts.models import (
    INGRESS_TYPES,
    CanonicalEvent,
    Chargeback,
    Deposit,
    Kyc,
    PlayerEvent,
    PlayerProfile,
    PlayerQualification,
    Registration,
    Wager,
)
from clickpath.contracts.topics import Topic
from clickpath.domain.consent import shares_data
from clickpath.domain.earnings.evidence import (
    deposits,
    note_chargeback,
    note_deposit,
    note_wager,
    wagers,
    window_days,
)
from clickpath.domain.earnings.qualify import Evidence, evaluate
from clickpath.domain.earnings.state import (
    EarningsPolicy,
    EarningsState,
    SentQualification,
    converter,
    copy_for_update,
    ftd_of,
    local_day,
    local_wall,
    period_of_day,
)
from clickpath.domain.earnings.values import PeriodBook, period_key, value_record
from clickpath.domain.ledger import Ledger
from clickpath.domain.money import MoneyEvent, apply_money
from clickpath.domain.outputs import Outcome, Output
from clickpath.domain.plans import PlanVersion

# The ingress fields a canonical event carries as its own fields, not in its payload
# (domain/outputs.py canonical_of).
_PROMOTED = (
    "event_id", "event_type", "occurred_at", "received_at", "brand_id", "source", "player_id",
    "click_id", "affiliate_id", "campaign_id", "transaction_id", "amount", "currency",
)


ACTED_ON = frozenset(
    event_type for event_type, cls in INGRESS_TYPES.items()
    if issubclass(cls, (Registration, Kyc, *get_args(MoneyEvent)))
)
"""The canonical event types `_apply_event` acts on; the others (clicks, logins, consent,
responsible gaming, ...) are skipped before they are decoded."""


def wants_kind(event_type: str) -> bool:
    return event_type in ACTED_ON


def wants_record(record: object) -> bool:
    """Profiles and the player stage's canonical events; not the click stage's clicks."""
    if isinstance(record, PlayerProfile):
        return True
    return (
        isinstance(record, CanonicalEvent)
        and record.event_type != "click" and record.player_id is not None
    )


def ingress_of(event: CanonicalEvent) -> PlayerEvent | None:
    """The ingress event a canonical event stands for (None: not a player event)."""
    cls = INGRESS_TYPES.get(event.event_type)
    if cls is None or not issubclass(cls, PlayerEvent):
        return None
    values = orjson.loads(event.payload)
    for name in _PROMOTED:
        if name in cls.model_fields and getattr(event, name) is not None:
            values[name] = getattr(event, name)
    return cls.model_validate(values)


def decide_earnings(
    state: EarningsState | None,
    record: CanonicalEvent | PlayerProfile,
    policy: EarningsPolicy,
    now: datetime,
    *,
    ledger: Ledger,
) -> tuple[EarningsState, list[Output], Outcome]:
    """Advance the player's earnings by one record (`now` is unused by the rules: every time
    sent is an event time). A record that changes nothing (seen before, or of a kind earnings
    ignore) is a DUPLICATE."""
    if state is None:
        state = EarningsState(brand_id=record.brand_id, player_id=record.player_id or "")
    else:
        state = copy_for_update(state)
    before = state.affiliate_id if state.attributed else None
    touched: set[str] = set()
    requalify = True
    if isinstance(record, PlayerProfile):
        changed, requalify = _apply_profile(state, record, policy, touched)
        caused_by, cause, occurred_at = [], "activity", record.updated_at
    else:
        event = ingress_of(record)
        changed, requalify = (False, False) if event is None else _apply_event(
            state, event, policy, ledger, touched)
        cause = "chargeback" if isinstance(event, Chargeback) else "activity"
        caused_by, occurred_at = [record.event_id], record.occurred_at
    if not changed:
        return state, [], Outcome.DUPLICATE
    state.version += 1
    state.periods = sorted({*state.periods, *touched})
    after = state.affiliate_id if state.attributed else None
    # A money event that changed no evidence (a wager past the minimum, a withdrawal) cannot
    # change the qualification: it is not evaluated again (the common case stays cheap)
    qualification = (
        _reported(state, _qualification(state, ledger, policy, occurred_at))
        if requalify or after != before or state.qualification is None
        else state.qualification
    )
    if qualification is not None and qualification.shares_data != state.shares_data:
        qualification = qualification.model_copy(update={"shares_data": state.shares_data})
    outputs: list[Output] = []
    if after != before:
        if after is not None:
            outputs += [value_record(state, ledger, key, after, caused_by, "retag", occurred_at)
                        for key in state.periods]
        if before is not None:
            state.former_affiliate_id = before
            outputs += retag_away(state, ledger, before, occurred_at)
        if qualification is not None:
            outputs.append(qualification_output(state, qualification))
        state.qualification = qualification
        return state, outputs, Outcome.ACCEPTED
    if after is None:
        return state, [], Outcome.ACCEPTED
    outputs += [value_record(state, ledger, key, after, caused_by, cause, occurred_at)
                for key in sorted(touched)]
    if qualification is not None and _differs(qualification, state.qualification):
        outputs.append(qualification_output(state, qualification))
        state.qualification = qualification
    return state, outputs, Outcome.ACCEPTED


def retag_away(
    state: EarningsState, ledger: Ledger, affiliate_id: str, occurred_at: datetime
) -> list[Output]:
    """All-zero values and a "none" qualification for the affiliate the player left."""
    outputs = [value_record(state, ledger, key, affiliate_id, [], "retag", occurred_at, zero=True)
               for key in state.periods]
    gone = SentQualification(affiliate_id=affiliate_id, status="none", reason="retag",
                             occurred_at=occurred_at)
    return [*outputs, qualification_output(state, gone)]


def _reported(
    state: EarningsState, q: SentQualification | None
) -> SentQualification | None:
    """The qualification with what its postback reports (the profile's click, consent)."""
    if q is None:
        return None
    return q.model_copy(update={"click_id": state.click_id, "subs": list(state.subs),
                                "postback_block": state.postback_block})


def qualification_output(state: EarningsState, q: SentQualification) -> Output:
    plan = (q.plan_id, q.plan_version)
    subs = [*q.subs, None, None, None, None, None][:5]
    record = PlayerQualification(
        affiliate_id=q.affiliate_id, person_id=state.person_id, brand_id=state.brand_id,
        country=state.country, version=state.version, status=q.status,
        qualified_at=q.qualified_at, reason=q.reason, plan_id=plan[0], plan_version=plan[1],
        registered_at=state.registered_at, caused_by=q.caused_by, occurred_at=q.occurred_at,
        campaign_id=state.campaign_id or None, shares_data=state.shares_data,
        click_id=q.click_id, sub1=subs[0], sub2=subs[1], sub3=subs[2], sub4=subs[3], sub5=subs[4],
        postback_block=q.postback_block,
    )
    return Output(Topic.EARNINGS, q.affiliate_id, record)


def _differs(new: SentQualification, old: SentQualification | None) -> bool:
    if old is None:
        return True
    ignore = {"occurred_at"}
    return new.model_dump(exclude=ignore) != old.model_dump(exclude=ignore)


def _apply_profile(
    state: EarningsState, profile: PlayerProfile, policy: EarningsPolicy, touched: set[str]
) -> tuple[bool, bool]:
    """(whether the state changed, whether the tag or registration did). The periods the FTD
    left and joined go to `touched`.

    Most profiles only say the player was active: one that changes nothing this stage keeps
    is not applied at all (no state write), its version not kept either. That is safe: every
    profile newer than the stored `profile_version` and not applied said what the state holds,
    so one of them arriving again changes nothing either."""
    if profile.version <= state.profile_version:
        return False, False
    ftd = None
    if profile.first_deposit_at is not None and profile.ftd_currency is not None:
        ftd = (period_of_day(local_day(profile.first_deposit_at, policy.time_zone)),
               profile.ftd_currency)
    registered_at = state.registered_at
    if state.registration_event_id is None and profile.registered_at is not None:
        registered_at = profile.registered_at
    old_ftd = ftd_of(state)
    shares = shares_data(profile.consents)
    kept = (state.affiliate_id, state.campaign_id, state.tag_status, state.registered_at, old_ftd,
            state.shares_data)
    reported = (profile.click_id, _subs(profile), profile.postback_block)
    same_report = reported == (state.click_id, state.subs, state.postback_block)
    if same_report and kept == (
        profile.affiliate_id, profile.campaign_id, profile.tag_status, registered_at, ftd, shares
    ):
        return False, False
    state.click_id, state.subs, state.postback_block = reported
    before = (state.affiliate_id, state.tag_status, state.registered_at)
    if ftd != old_ftd:
        touched |= {period_key(*key) for key in (old_ftd, ftd) if key is not None}
    state.ftd, state.first_deposit = ftd, None
    state.profile_version = profile.version
    state.affiliate_id, state.campaign_id = profile.affiliate_id, profile.campaign_id
    state.tag_status, state.registered_at = profile.tag_status, registered_at
    state.shares_data = shares
    # A new click or consent state changes no qualification, but is sent with it again
    return True, not same_report or before != (state.affiliate_id, state.tag_status,
                                               state.registered_at)


def _subs(profile: PlayerProfile) -> list[str | None]:
    subs = [profile.sub1, profile.sub2, profile.sub3, profile.sub4, profile.sub5]
    return subs if any(subs) else []


def plan_of(state: EarningsState, policy: EarningsPolicy) -> PlanVersion | None:
    """The plan the player was acquired under: in effect on their registration day."""
    if not state.attributed or state.registered_at is None:
        return None
    on = local_day(state.registered_at, policy.time_zone)
    return policy.book.plan_for(state.affiliate_id, state.brand_id, state.country, on)


def _apply_event(
    state: EarningsState, event: PlayerEvent, policy: EarningsPolicy, ledger: Ledger,
    touched: set[str],
) -> tuple[bool, bool]:
    """(whether the state changed, whether the qualification may have changed)."""
    if isinstance(event, Registration):
        if state.registration_event_id is not None:
            return False, False
        state.registration_event_id = event.event_id
        state.registered_at, state.country = event.occurred_at, event.country
        return True, True
    if isinstance(event, Kyc):
        if event.status != "verified" or (
            state.kyc_verified_at is not None and state.kyc_verified_at <= event.occurred_at
        ):
            return False, False
        state.kyc_verified_at, state.kyc_event_id = event.occurred_at, event.event_id
        return True, True
    if not isinstance(event, MoneyEvent):
        return False, False
    moved = event.model_copy(update={"occurred_at": local_wall(event.occurred_at, policy.time_zone)})
    real_wager = isinstance(event, Wager) and event.stake > 0
    book = PeriodBook(ledger, state.lifetime, real_wager)
    applied = apply_money(book, None, moved, track_first=False)  # the FTD is the profile's
    if applied.changed:
        touched |= {period_key(period_of_day(day), cur) for day, cur in applied.touched}
    plan = plan_of(state, policy)
    rules = plan.cpa if plan is not None else None
    days = window_days(policy, rules)
    noted = False
    if isinstance(event, Deposit):
        noted = note_deposit(ledger, state, event, days)
    elif isinstance(event, Chargeback) and applied.changed:
        noted = note_chargeback(ledger, state, event, days)
    elif isinstance(event, Wager) and applied.changed:
        noted = note_wager(ledger, state, event, policy, rules, plan is not None,
                           plan.currency if plan else None, converter(policy.fx))
    return applied.changed or noted, noted


def _qualification(
    state: EarningsState, ledger: Ledger, policy: EarningsPolicy, occurred_at: datetime
) -> SentQualification | None:
    """The qualification now (None while unattributed or not registered). Reads `Q|`."""
    if not state.attributed or state.registered_at is None:
        return None
    previous = state.qualification
    if previous is not None and previous.status == "reversed":
        return previous.model_copy(update={"affiliate_id": state.affiliate_id})  # final
    plan = plan_of(state, policy)
    if plan is None or plan.cpa is None:
        return SentQualification(affiliate_id=state.affiliate_id, status="none",
                                 reason="no_plan", occurred_at=occurred_at)
    kyc = (state.kyc_verified_at, state.kyc_event_id or "") if state.kyc_verified_at else None
    evidence = Evidence(state.registered_at, list(deposits(ledger).values()), wagers(ledger), kyc)
    verdict = evaluate(plan.cpa, plan.currency, evidence, converter(policy.fx))
    state.wagering_met_at = verdict.wagering_met_at
    when = verdict.reversed_at or verdict.qualified_at
    if verdict.status == "pending":
        when = occurred_at
    return SentQualification(
        affiliate_id=state.affiliate_id, status=verdict.status,
        qualified_at=verdict.qualified_at if verdict.status != "pending" else None,
        reason=verdict.reason, plan_id=plan.plan_id, plan_version=plan.version,
        caused_by=verdict.caused_by, occurred_at=when or occurred_at,
    )
