"""Per-player state and the one decision function that advances it.

Every event about a player, and the attribution decided for them, lands here keyed by
`person_id`. The function is pure, `decide_player(state, record, policy, now)` returning
`(state, outputs, outcome)`: `now`, the processing time stamped on some outputs, comes from the
caller's clock, so a decision depends on its arguments only.

Correct whatever the arrival order (docs/architecture.md):
- the FTD is the deposit with the earliest event time seen so far, not the first to arrive;
- the funnel contribution is published as cumulative per-day facts that a newer `version`
  replaces, so a deposit counted before its registration's attribution was known is re-counted
  under the right affiliate when the attribution arrives, never twice;
- postbacks go out once each (registration, FTD) as soon as both the conversion and an
  attribution to an affiliate are known.

Dedup: the event id within a bounded per-player window (`recent_ids`), and natural keys
forever: one registration per player, one deposit per `transaction_id`.

The state stays small for life: what grows with a player's history (every transaction id, the
totals of every deposit day) lives in the player's ledger rows (`clickpath.domain.ledger`), which
the state carries as a private attribute that is never serialized with it; the agent backs it
with its table, a test with a dict.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, PrivateAttr

from clickpath.contracts.models import (
    Attribution,
    Consent,
    DeliveryAttempt,
    Deposit,
    PlayerDayFact,
    PlayerEvent,
    Postback,
    PostbackRevocation,
    Registration,
    ResponsibleGaming,
)
from clickpath.contracts.topics import Topic
from clickpath.domain import recent_ids
from clickpath.domain.clicks import link_of
from clickpath.domain.consent import ConsentMark, RgMark, apply_consent, apply_rg, postback_block
from clickpath.domain.ledger import (
    DAY_INDEX,
    Ledger,
    MemoryLedger,
    day_of_row,
    day_row,
    txn_row,
)
from clickpath.domain.outputs import Outcome, Output, canonical_of


class Tag(BaseModel):
    """Who the player is attributed to, for life once attributed."""

    status: Literal["attributed", "organic", "unattributed"]
    affiliate_id: str = ""
    campaign_id: str = ""
    click_id: str | None = None
    subs: list[str | None] = [None] * 5
    reason: str | None = None


class DepositRef(BaseModel):
    event_id: str
    transaction_id: str
    occurred_at: datetime
    amount: Decimal
    currency: str

    def order_key(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.transaction_id)


class DayTotals(BaseModel):
    deposits: int = 0
    deposit_sum: Decimal = Decimal(0)


def _new_ledger() -> Ledger:
    return MemoryLedger()


class PlayerState(BaseModel):
    brand_id: str
    player_id: str
    registration_event_id: str | None = None
    registered_at: datetime | None = None
    click_id: str | None = None
    tag: Tag | None = None
    recent_ids: str = ""  # the newest event ids, as digests (domain/recent_ids.py)
    first_deposit: DepositRef | None = None
    postbacks_sent: list[str] = []
    postbacks_suppressed: list[str] = []
    consents: dict[str, ConsentMark] = {}
    rg_active: dict[str, RgMark] = {}
    version: int = 0
    _ledger: Ledger = PrivateAttr(default_factory=_new_ledger)

    @property
    def person_id(self) -> str:
        return f"{self.brand_id}:{self.player_id}"

    @property
    def ledger(self) -> Ledger:
        """The player's rows that grow with history (not part of the serialized state)."""
        return self._ledger

    def with_ledger(self, ledger: Ledger) -> PlayerState:
        self._ledger = ledger
        return self


@dataclass(frozen=True)
class PlayerPolicy:
    recent_ids: int
    pseudonym_key: bytes


FactKey = tuple[date, str]
FactValue = tuple[int, int, int, Decimal]


def day_totals(ledger: Ledger, day: date, currency: str) -> DayTotals:
    row = ledger.get(day_row(day, currency))
    return DayTotals.model_validate(row) if row else DayTotals()


def fact_keys(state: PlayerState) -> set[FactKey]:
    """The (day, currency) keys the state itself marks: registration day and FTD day."""
    keys: set[FactKey] = set()
    if state.registered_at is not None:
        keys.add((state.registered_at.date(), ""))
    if state.first_deposit is not None:
        keys.add((state.first_deposit.occurred_at.date(), state.first_deposit.currency))
    return keys


def all_fact_keys(state: PlayerState) -> set[FactKey]:
    """Every key the player has a fact for: reads the day index (a re-tag or replay only)."""
    index = state.ledger.get(DAY_INDEX) or {"days": []}
    return fact_keys(state) | {day_of_row(row) for row in index["days"]}


def funnel_facts(state: PlayerState, keys: set[FactKey]) -> dict[FactKey, FactValue]:
    """The player's funnel contribution for `keys`: regs, FTDs, deposits, sum (non-empty only)."""
    facts: dict[FactKey, FactValue] = {}
    first = state.first_deposit
    ftd_key = (first.occurred_at.date(), first.currency) if first else None
    reg_key = (state.registered_at.date(), "") if state.registered_at else None
    for day, currency in keys:
        totals = day_totals(state.ledger, day, currency) if currency else DayTotals()
        regs = 1 if (day, currency) == reg_key else 0
        ftds = 1 if (day, currency) == ftd_key else 0
        if regs or ftds or totals.deposits:
            facts[(day, currency)] = (regs, ftds, totals.deposits, totals.deposit_sum)
    return facts


def player_token(key: bytes, affiliate_id: str, person_id: str) -> str:
    """A pseudonymous player id that differs per affiliate, so affiliates cannot join theirs."""
    return hmac.new(key, f"{affiliate_id}|{person_id}".encode(), hashlib.sha256).hexdigest()[:32]


def postback_id(person_id: str, affiliate_id: str, event: str) -> str:
    return hashlib.sha256(f"{person_id}|{affiliate_id}|{event}".encode()).hexdigest()[:32]


def decide_player(
    state: PlayerState | None,
    record: PlayerEvent | Attribution,
    policy: PlayerPolicy,
    now: datetime,
    linked: bool = False,
    ledger: Ledger | None = None,
) -> tuple[PlayerState, list[Output], Outcome]:
    """Advance the player by one record. `linked`: a registration already linked to its click
    by the click stage (it came that way), so no `ClickLink` is sent for it. `ledger`: the rows
    of a player who has no state yet (a stored state carries its own)."""
    if state is None:
        state = PlayerState(brand_id=record.brand_id, player_id=record.player_id)
        state.with_ledger(ledger or MemoryLedger())
    else:
        state = _copy_for_update(state)
    # Facts change only with registrations, attributions and deposits: only those read rows.
    reshapes = isinstance(record, (Registration, Attribution))
    touched = fact_keys(state) | _keys_of(record) if reshapes else set()
    before_facts = funnel_facts(state, touched) if reshapes else {}
    before_ftd = state.first_deposit
    before_tag = state.tag
    outputs: list[Output] = []

    if isinstance(record, Attribution):
        if not _apply_attribution(state, record):
            return state, [], Outcome.DUPLICATE
    else:
        event_digest = recent_ids.digest(record.event_id)
        if recent_ids.seen_digest(state.recent_ids, event_digest):
            return state, [], Outcome.DUPLICATE
        if isinstance(record, Registration):
            if state.registration_event_id is not None:
                return state, [], Outcome.DUPLICATE
            outputs += _apply_registration(state, record, linked)
        if isinstance(record, Consent):
            if apply_consent(state.consents, record):
                outputs += _revocations(state, policy, record.occurred_at, now)
        elif isinstance(record, ResponsibleGaming):
            apply_rg(state.rg_active, record)
            outputs += _revocations(state, policy, record.occurred_at, now)
        is_ftd = False
        if isinstance(record, Deposit):
            if state.ledger.get(txn_row(record.transaction_id)) is not None:
                return state, [], Outcome.DUPLICATE
            is_ftd = _apply_deposit(state, record)
            touched = _keys_of(record)  # the deposit's day always changes; so does an old FTD's
            if is_ftd and before_ftd is not None:
                touched.add((before_ftd.occurred_at.date(), before_ftd.currency))
        state.recent_ids = recent_ids.remember(state.recent_ids, event_digest, policy.recent_ids)
        canonical = canonical_of(record, state.person_id, now, is_ftd)
        outputs.append(Output(Topic.CANONICAL, state.person_id, canonical))

    state.version += 1
    retag = state.tag != before_tag
    keys = all_fact_keys(state) if retag else touched | (fact_keys(state) if reshapes else set())
    outputs += _changed_facts(state, keys, before_facts, retag)
    outputs += _due_postbacks(state, policy, now)
    return state, outputs, Outcome.ACCEPTED


def _copy_for_update(state: PlayerState) -> PlayerState:
    """A copy the decision may change without touching `state` (a deep copy costs a third of
    the decision's time; only these containers are changed in place)."""
    return state.model_copy(
        update={
            "postbacks_sent": list(state.postbacks_sent),
            "postbacks_suppressed": list(state.postbacks_suppressed),
            "consents": dict(state.consents),
            "rg_active": dict(state.rg_active),
        }
    )


def replay_outputs(
    state: PlayerState,
    record: PlayerEvent | Attribution,
    policy: PlayerPolicy,
    now: datetime,
    linked: bool = False,
) -> list[Output]:
    """What to send again for a record `state` has already applied (read again after a crash).

    A crash can keep the state written with a record and lose the outputs sent with it, and
    the replayed record then looks like a duplicate. Every output is idempotent downstream
    (canonical events by event id, facts by version, postbacks by postback id), so sending
    the record's outputs and the player's current facts and postbacks again is safe.
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
            outputs += _click_links(state, record)
    outputs += _changed_facts(state, all_fact_keys(state), {}, retag=True)
    tag = state.tag
    if tag is not None and tag.status == "attributed" and tag.click_id:
        for event in state.postbacks_sent:
            dep = state.first_deposit if event == "ftd" else None
            at = dep.occurred_at if dep else state.registered_at
            if at is not None and (event == "registration" or dep is not None):
                outputs.append(_postback(state, policy, tag, event, at, dep))  # type: ignore[arg-type]
    return outputs


def _click_links(state: PlayerState, reg: Registration) -> list[Output]:
    if reg.click_id is None:
        return []
    return [Output(Topic.CLICK_LINKS, reg.click_id, link_of(reg))]


def _apply_registration(state: PlayerState, reg: Registration, linked: bool) -> list[Output]:
    state.registration_event_id = reg.event_id
    state.registered_at = reg.occurred_at
    state.click_id = reg.click_id
    if reg.click_id is None:
        state.tag = Tag(status="organic")
    return [] if linked else _click_links(state, reg)


def _keys_of(record: PlayerEvent | Attribution) -> set[FactKey]:
    """The fact keys a record may change besides those the state marks already."""
    if isinstance(record, Deposit):
        return {(record.occurred_at.date(), record.currency)}
    if isinstance(record, Registration):
        return {(record.occurred_at.date(), "")}
    if isinstance(record, Attribution):
        return {(record.registered_at.date(), "")}
    return set()


def _apply_deposit(state: PlayerState, dep: Deposit) -> bool:
    """Count the deposit in the ledger; True when it is (so far) the player's first by event
    time. Ledger rows are written only here, after every duplicate check has passed."""
    ledger = state.ledger
    day, currency = dep.occurred_at.date(), dep.currency
    ledger.put(txn_row(dep.transaction_id), {"event_id": dep.event_id, "day": day.isoformat()})
    totals = day_totals(ledger, day, currency)
    if totals.deposits == 0:
        index = ledger.get(DAY_INDEX) or {"days": []}
        ledger.put(DAY_INDEX, {"days": [*index["days"], day_row(day, currency)]})
    totals.deposits += 1
    totals.deposit_sum += dep.amount
    ledger.put(day_row(day, currency), totals.model_dump(mode="json"))
    ref = DepositRef(
        event_id=dep.event_id,
        transaction_id=dep.transaction_id,
        occurred_at=dep.occurred_at,
        amount=dep.amount,
        currency=dep.currency,
    )
    if state.first_deposit is None or ref.order_key() < state.first_deposit.order_key():
        state.first_deposit = ref
        return True
    return False


def _apply_attribution(state: PlayerState, decision: Attribution) -> bool:
    """Take a decision for the player's current registration; False when nothing changes."""
    if state.tag is not None and state.tag.status == "attributed":
        return False  # tagged for life
    if state.click_id is not None and decision.click_id != state.click_id:
        return False  # a decision about a click this player's registration does not name
    if state.registered_at is None:
        state.registered_at = decision.registered_at
        state.click_id = decision.click_id
    new_tag = Tag(
        status=decision.status,
        affiliate_id=decision.affiliate_id or "",
        campaign_id=decision.campaign_id or "",
        click_id=decision.click_id,
        subs=[decision.sub1, decision.sub2, decision.sub3, decision.sub4, decision.sub5],
        reason=decision.reason,
    )
    if new_tag == state.tag:
        return False
    state.tag = new_tag
    return True


def _changed_facts(
    state: PlayerState, keys: set[FactKey], before: dict[FactKey, FactValue], retag: bool
) -> list[Output]:
    tag = state.tag or Tag(status="unattributed")
    outputs = []
    for (day, currency), value in sorted(funnel_facts(state, keys).items()):
        if not retag and before.get((day, currency)) == value:
            continue
        regs, ftds, deposits, total = value
        fact = PlayerDayFact(
            person_id=state.person_id,
            brand_id=state.brand_id,
            day=day,
            currency=currency,
            affiliate_id=tag.affiliate_id,
            campaign_id=tag.campaign_id,
            registrations=regs,
            ftds=ftds,
            deposits=deposits,
            deposit_sum=total,
            version=state.version,
        )
        outputs.append(Output(Topic.PLAYER_DAY_FACTS, state.person_id, fact))
    return outputs


def _due_postbacks(state: PlayerState, policy: PlayerPolicy, now: datetime) -> list[Output]:
    tag = state.tag
    if tag is None or tag.status != "attributed" or not tag.click_id:
        return []
    due: list[tuple[Literal["registration", "ftd"], datetime, DepositRef | None]] = []
    done = {*state.postbacks_sent, *state.postbacks_suppressed}
    if state.registered_at is not None and "registration" not in done:
        due.append(("registration", state.registered_at, None))
    if state.first_deposit is not None and "ftd" not in done:
        due.append(("ftd", state.first_deposit.occurred_at, state.first_deposit))
    outputs = []
    for event, at, dep in due:
        reason = postback_block(state.consents, state.rg_active, at)
        if reason is None:
            state.postbacks_sent.append(event)
            outputs.append(_postback(state, policy, tag, event, at, dep))
        else:
            state.postbacks_suppressed.append(event)
            outputs.append(_suppressed(state, tag, event, reason, now))
    return outputs


def _revocations(
    state: PlayerState, policy: PlayerPolicy, at: datetime, now: datetime
) -> list[Output]:
    """When a change forbids postbacks, tell the delivery engine (and affiliates reading the
    postback topic) to drop what is still pending for this player: consent is enforced at send
    time, not only when a postback is made."""
    tag = state.tag
    reason = postback_block(state.consents, state.rg_active, at)
    if reason is None or tag is None or tag.status != "attributed" or not state.postbacks_sent:
        return []
    revocation = PostbackRevocation(
        affiliate_id=tag.affiliate_id,
        player_token=player_token(policy.pseudonym_key, tag.affiliate_id, state.person_id),
        reason=reason, revoked_at=now,
    )
    return [Output(Topic.POSTBACKS, tag.affiliate_id, revocation)]


def _suppressed(state: PlayerState, tag: Tag, event: str, reason: str, now: datetime) -> Output:
    """The delivery log's record of a postback not sent, and why (docs/delivery.md)."""
    record = DeliveryAttempt(
        job_id=postback_id(state.person_id, tag.affiliate_id, event), endpoint_id="-",
        kind="postback", event=event, affiliate_id=tag.affiliate_id, brand_id=state.brand_id,
        attempt=0, latency_ms=0, outcome="suppressed", error=reason, attempted_at=now,
    )
    return Output(Topic.DELIVERY_ATTEMPTS, tag.affiliate_id, record)


def _postback(
    state: PlayerState,
    policy: PlayerPolicy,
    tag: Tag,
    event: Literal["registration", "ftd"],
    at: datetime,
    dep: DepositRef | None,
) -> Output:
    postback = Postback(
        postback_id=postback_id(state.person_id, tag.affiliate_id, event),
        affiliate_id=tag.affiliate_id,
        campaign_id=tag.campaign_id,
        brand_id=state.brand_id,
        event=event,
        click_id=tag.click_id or "",
        sub1=tag.subs[0],
        sub2=tag.subs[1],
        sub3=tag.subs[2],
        sub4=tag.subs[3],
        sub5=tag.subs[4],
        amount=dep.amount if dep else None,
        currency=dep.currency if dep else None,
        player_token=player_token(policy.pseudonym_key, tag.affiliate_id, state.person_id),
        transaction_id=dep.transaction_id if dep else None,
        occurred_at=at,
    )
    return Output(Topic.POSTBACKS, tag.affiliate_id, postback)
