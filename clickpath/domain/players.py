"""Per-player state and the one decision function that advances it.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from clickpath.contracts.models import (
    Attribution,
    Chargeback,
    Consent,
    Deposit,
    Kyc,
    Login,
    PlayerDayFact,
    PlayerEvent,
    PostbackEvent,
    PostbackRevocation,
    Registration,
    ResponsibleGaming,
)
from clickpath.contracts.topics import Topic
from clickpath.domain import recent_ids
from clickpath.domain.clicks import link_of
from clickpath.domain.consent import ConsentMark, RgMark, apply_consent, apply_rg, postback_block
from clickpath.domain.day_value import DayBook, DayTotals, day_totals
from clickpath.domain.ledger import Ledger
from clickpath.domain.ledger_rows import DAY_INDEX, day_of_row, deposit_report_row, payment_row
from clickpath.domain.money import DepositRef, FactKey, MoneyEvent, apply_money
from clickpath.domain.outputs import Outcome, Output, canonical_of
from clickpath.domain.payments import Payment, ever_approved_deposits
from clickpath.domain.postbacks import make_postback, suppressed_postback
from clickpath.domain.pseudonym import player_token


class Tag(BaseModel):
    """Who the player is attributed to, for life once attributed."""

    status: Literal["attributed", "organic", "unattributed"]
    affiliate_id: str = ""
    campaign_id: str = ""
    click_id: str | None = None
    subs: list[str | None] = [None] * 5
    reason: str | None = None


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
    lifetime: dict[str, DayTotals] = {}  # per currency (domain/day_value.py)
    kyc_status: str | None = None
    kyc_at: datetime | None = None
    sessions: int = 0
    activity_events: int = 0
    first_activity_at: datetime | None = None
    last_activity_at: datetime | None = None
    version: int = 0

    @property
    def person_id(self) -> str:
        return f"{self.brand_id}:{self.player_id}"


@dataclass(frozen=True)
class PlayerPolicy:
    recent_ids: int
    pseudonym_key: bytes


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


def decide_player(
    state: PlayerState | None,
    record: PlayerEvent | Attribution,
    policy: PlayerPolicy,
    now: datetime,
    linked: bool = False,
    *,
    ledger: Ledger,
) -> tuple[PlayerState, list[Output], Outcome]:
    """Advance the player by one record. `linked`: a registration already linked to its click
    by the click stage (it came that way), so no `ClickLink` is sent for it. `ledger`: the
    player's rows, read and changed in place (the caller stores what changed with the state).

    Rows: a money event reads and writes its natural key (`T|`, `C|`, `W|`, `B|`), its day
    (`D|`), the day index `I` and FTD candidates `A|` (domain/money.py); a re-tag reads `I` and
    every `D|`; facts read the `D|` they send; deposit postbacks read `T|d|`, `A|` and `P|` and
    write `P|`; the FTD postback writes its deposit's `P|`."""
    if state is None:
        state = PlayerState(brand_id=record.brand_id, player_id=record.player_id)
    else:
        state = _copy_for_update(state)
    # Registrations and attributions move facts the state marks (compared before and after);
    # money events name the days they changed; other events change no fact.
    reshapes = isinstance(record, (Registration, Attribution))
    touched = fact_keys(state) | _keys_of(record) if reshapes else set()
    before_facts = funnel_facts(state, ledger, touched) if reshapes else {}
    before_tag, before_registered = state.tag, state.registered_at
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
        if isinstance(record, MoneyEvent):
            applied = apply_money(DayBook(ledger, state.lifetime), state.first_deposit, record)
            if not applied.changed:
                return state, [], Outcome.DUPLICATE
            state.first_deposit = applied.first_deposit
            touched, is_ftd = applied.touched, applied.is_ftd
        _note_activity(state, record)
        state.recent_ids = recent_ids.remember(state.recent_ids, event_digest, policy.recent_ids)
        canonical = canonical_of(record, state.person_id, now, is_ftd)
        outputs.append(Output(Topic.CANONICAL, state.person_id, canonical))

    state.version += 1
    # Every fact carries the tag and the registration time (cohorts): when either changes, all
    # of the player's facts are sent again (a registration after deposits dates them all).
    retag = state.tag != before_tag or state.registered_at != before_registered
    keys = (
        all_fact_keys(state, ledger) if retag
        else touched | (fact_keys(state) if reshapes else set())
    )
    outputs += _changed_facts(state, ledger, keys, before_facts, retag)
    outputs += _due_postbacks(state, ledger, policy, now)
    outputs += _money_postbacks(state, ledger, record, policy, now)
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
            "lifetime": {k: v.model_copy() for k, v in state.lifetime.items()},
        }
    )


def replay_outputs(
    state: PlayerState,
    record: PlayerEvent | Attribution,
    policy: PlayerPolicy,
    now: datetime,
    linked: bool = False,
    *,
    ledger: Ledger,
) -> list[Output]:
    """What to send again for a record `state` has already applied (read again after a crash).

    A crash can keep the state written with a record and lose the outputs sent with it, and
    the replayed record then looks like a duplicate. Every output is idempotent downstream
    (canonical events by event id, facts by version, postbacks by postback id), so sending
    the record's outputs and the player's current facts and postbacks again is safe.

    Rows: reads the day index `I` and every day `D|` (all facts), and for a deposit or
    chargeback its `T|d|` and `P|` rows; writes none.
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
    outputs += _changed_facts(state, ledger, all_fact_keys(state, ledger), {}, retag=True)
    tag = state.tag
    if tag is not None and tag.status == "attributed" and tag.click_id:
        for event in state.postbacks_sent:
            dep = state.first_deposit if event == "ftd" else None
            at = dep.occurred_at if dep else state.registered_at
            if at is not None and (event == "registration" or dep is not None):
                outputs.append(_postback(state, policy, tag, event, at, dep))  # type: ignore[arg-type]
    outputs += _money_postbacks(state, ledger, record, policy, now, replay=True)
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


def _note_activity(state: PlayerState, event: PlayerEvent) -> None:
    """What the profile says of the player's activity: kept as min, max and counts, so the
    same whatever the order."""
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


def _keys_of(record: PlayerEvent | Attribution) -> set[FactKey]:
    """The fact keys a registration or attribution may change besides the state's own."""
    if isinstance(record, Registration):
        return {(record.occurred_at.date(), "")}
    if isinstance(record, Attribution):
        return {(record.registered_at.date(), "")}
    return set()


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
    state: PlayerState, ledger: Ledger, keys: set[FactKey], before: dict[FactKey, FactValue],
    retag: bool,
) -> list[Output]:
    """The facts of `keys` that differ from `before` (`retag`: every one that is not all zeros).
    Reads the day rows `D|` of `keys`."""
    tag = state.tag or Tag(status="unattributed")
    outputs = []
    for (day, currency), value in sorted(funnel_facts(state, ledger, keys).items()):
        if retag and _is_zero(value):
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


def _due_postbacks(
    state: PlayerState, ledger: Ledger, policy: PlayerPolicy, now: datetime
) -> list[Output]:
    """The registration and FTD postbacks now due, each once (sent or suppressed). Reads and
    writes the FTD deposit's report row `P|`."""
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
        if dep is not None:
            _mark(ledger, dep.transaction_id, event, "sent" if reason is None else "suppressed")
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


def _suppressed(state: PlayerState, tag: Tag, event: str, reason: str, now: datetime,
                key: str | None = None) -> Output:
    return suppressed_postback(state.person_id, state.brand_id, tag.affiliate_id, event, reason,
                               now, key)


def _postback(
    state: PlayerState,
    policy: PlayerPolicy,
    tag: Tag,
    event: PostbackEvent,
    at: datetime,
    dep: DepositRef | None,
    key: str | None = None,
    reverses: Literal["ftd", "deposit"] | None = None,
) -> Output:
    """A postback of `event` for the player (`dep`: the deposit it reports, if any)."""
    return make_postback(
        state.person_id, state.brand_id, tag, event, at, policy.pseudonym_key, key=key,
        amount=dep.amount if dep else None, currency=dep.currency if dep else None,
        transaction_id=dep.transaction_id if dep else None, reverses=reverses,
    )


# Deposit postbacks and reversals (docs/postback-presets.md). What was reported for a deposit
# is kept in its ledger row `P|<transaction id>` (a player's deposits grow with history):
# {"ftd"|"deposit": "sent"|"suppressed", "chargeback": ..., "chargeback_at": ...}.


def _mark(ledger: Ledger, transaction_id: str, event: str, how: str, at: datetime | None = None,
          row: dict[str, Any] | None = None) -> None:
    """Record what was reported for a deposit in its row `P|` (`row`: as already read; else
    read here)."""
    if row is None:
        row = ledger.get(deposit_report_row(transaction_id)) or {}
    row = dict(row)
    row[event] = how
    if at is not None:
        row[f"{event}_at"] = at.isoformat()
    ledger.put(deposit_report_row(transaction_id), row)


def _money_postbacks(
    state: PlayerState, ledger: Ledger, record: PlayerEvent | Attribution, policy: PlayerPolicy,
    now: datetime, replay: bool = False,
) -> list[Output]:
    """Deposit postbacks and reversals that `record` makes due (`replay`: send again those it
    made, for `replay_outputs`).

    Each approved deposit of an attributed player other than the one the FTD postback reported
    is a `deposit` postback, once (so ftd + deposit postbacks report every deposit once). When a
    deposit behind a sent conversion (its FTD or deposit postback) is charged back or stops
    counting (refunded, cancelled), a `chargeback` postback reverses it, once. Deposits made
    before the attribution arrived are reported when it does. Consent and RG are checked as for
    the FTD; the delivery engine sends each only to endpoints that subscribe to it.

    Rows: reads the deposit's payment `T|d|` and report `P|` (an attribution: every deposit
    ever approved, from the day index `I`, the days `D|` and the FTD candidates `A|`); writes
    `P|` of each deposit reported (never on a replay)."""
    tag = state.tag
    if tag is None or tag.status != "attributed" or not tag.click_id:
        return []
    if isinstance(record, Deposit | Chargeback):
        txns = [record.transaction_id]
    elif isinstance(record, Attribution):
        txns = list(dict.fromkeys(ever_approved_deposits(ledger)))
    else:
        return []
    at = record.occurred_at if isinstance(record, PlayerEvent) else None
    outputs: list[Output] = []
    for txn in txns:
        stored = ledger.get(payment_row("deposit", txn))
        if stored is None:
            continue  # a chargeback of a deposit clickpath has not seen
        payment = Payment.model_validate(stored)
        if replay:
            outputs += _resend(state, ledger, policy, tag, payment)
        else:
            reversed_by = at if isinstance(record, Chargeback) or not payment.counts() else None
            outputs += _report_deposit(state, ledger, policy, tag, payment, reversed_by, now)
    return outputs


def _ref_of(payment: Payment) -> DepositRef:
    return DepositRef(event_id=payment.first_event_id, transaction_id=payment.transaction_id,
                      occurred_at=payment.at, amount=payment.amount, currency=payment.currency)


def _report_deposit(
    state: PlayerState, ledger: Ledger, policy: PlayerPolicy, tag: Tag, payment: Payment,
    reversed_at: datetime | None, now: datetime,
) -> list[Output]:
    """The deposit's postback, or its reversal (`reversed_at`), if not reported yet. Reads and
    writes the deposit's report row `P|`."""
    txn = payment.transaction_id
    row = ledger.get(deposit_report_row(txn)) or {}
    dep = _ref_of(payment)
    if reversed_at is None:
        if not payment.counts() or "ftd" in row or "deposit" in row:
            return []
        event: PostbackEvent = "deposit"
        at, reverses = payment.at, None
    else:
        converted = "ftd" if row.get("ftd") == "sent" else "deposit" if row.get("deposit") == "sent" else None
        if converted is None or "chargeback" in row:
            return []
        event, at, reverses = "chargeback", reversed_at, converted
    key = f"{event}|{txn}"
    reason = postback_block(state.consents, state.rg_active, at)
    _mark(ledger, txn, event, "sent" if reason is None else "suppressed",
          at if event == "chargeback" else None, row)
    if reason is not None:
        return [_suppressed(state, tag, event, reason, now, key)]
    return [_postback(state, policy, tag, event, at, dep, key, reverses)]  # type: ignore[arg-type]


def _resend(
    state: PlayerState, ledger: Ledger, policy: PlayerPolicy, tag: Tag, payment: Payment
) -> list[Output]:
    """The deposit and reversal postbacks sent for `payment`, again (same ids). Reads the
    deposit's report row `P|`."""
    txn = payment.transaction_id
    row = ledger.get(deposit_report_row(txn)) or {}
    dep = _ref_of(payment)
    outputs = []
    if row.get("deposit") == "sent":
        outputs.append(_postback(state, policy, tag, "deposit", payment.at, dep, f"deposit|{txn}"))
    if row.get("chargeback") == "sent" and row.get("chargeback_at"):
        reverses = "ftd" if row.get("ftd") == "sent" else "deposit"
        at = datetime.fromisoformat(row["chargeback_at"])
        outputs.append(_postback(state, policy, tag, "chargeback", at, dep, f"chargeback|{txn}",
                                 reverses))  # type: ignore[arg-type]
    return outputs
