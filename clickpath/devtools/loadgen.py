"""Synthetic operators, affiliates and player journeys, with the ground truth they imply.

The generator plays journeys the way operators' feeds look: players click one to four
affiliates' links over the days before registering with the last one (the tracker's cookie
holds the last click), most on one device whose id (the web SDK's first-party cookie) their
clicks and registration carry, so the person's earlier clicks are linked to their path too
(docs/touchpoints.md); some register organically, most clicks never register; KYC, deposits of
realistic sizes in several currencies, wagers, chargebacks, consent changes and self-exclusions
follow. Some events are sent twice (same event, or an operator retry with a new event id and
the same transaction id) and some arrive late, after later events of the same journey.

`JourneyRates.every_type()` adds what the defaults leave out (the defaults stay as they are, so
the benchmark's workload does not move): declined deposits and deposits pending before they
are approved, withdrawals (some declined), bonuses granted, played with bonus stakes and then
converted or forfeited, deposit limits, erasure requests, and retries with a new event id of
every event with a natural key (withdrawal, wager, chargeback, bonus).

The ground truth (clickpath.devtools.truth) is computed here, from the journeys as they were
generated, without any pipeline code: it is what the pipeline's outputs must equal
(`clickpath.devtools.verify`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, TypeVar

from clickpath.contracts.models import (
    Bonus,
    Chargeback,
    Click,
    Consent,
    Deposit,
    ErasureRequest,
    IngressEvent,
    Kyc,
    Login,
    Registration,
    ResponsibleGaming,
    Wager,
    Withdrawal,
    utcnow,
)
from clickpath.devtools.truth import GroundTruth, MoneyTruth

CURRENCIES = (("EUR", 0.6), ("GBP", 0.2), ("CAD", 0.1), ("SEK", 0.1))
DEPOSIT_SIZES = (10, 10, 20, 20, 20, 25, 50, 50, 100, 100, 200, 500, 1000)
WITHDRAWAL_SIZES = (10, 20, 50, 50, 100, 250)
BONUS_SIZES = (5, 10, 10, 20, 50)
CLICKS_PER_JOURNEY = (1, 1, 2, 2, 3, 4)
GAME_CATEGORIES = ("casino", "live_casino", "sports", "poker")
# Events an operator may resend with a new event id: each counts once by its natural key.
NATURAL_KEYED = (Withdrawal, Chargeback, Wager, Bonus)
Status = Literal["approved", "declined", "pending"]
P = TypeVar("P", Deposit, Withdrawal)


@dataclass(frozen=True)
class Population:
    """Brands and affiliates with their campaigns."""

    brands: tuple[str, ...]
    affiliates: dict[str, tuple[str, ...]]  # affiliate id -> campaign ids

    @classmethod
    def synthetic(cls, brands: int = 3, affiliates: int = 12, campaigns: int = 3) -> Population:
        return cls(
            brands=tuple(f"brand-{b + 1}" for b in range(brands)),
            affiliates={
                f"aff-{a + 1:02d}": tuple(f"aff-{a + 1:02d}-c{c + 1}" for c in range(campaigns))
                for a in range(affiliates)
            },
        )


@dataclass(frozen=True)
class JourneyRates:
    """How journeys branch; the defaults are in the range operators report.

    A rate of 0 draws nothing from the generator's random stream, so the event types the
    defaults leave out can be added without changing the journeys the defaults make."""

    clicked: float = 0.8  # the rest register organically
    register_after_click: float = 0.45
    kyc: float = 0.7
    deposit: float = 0.6
    chargeback: float = 0.02
    consent_withdrawn: float = 0.05
    self_exclusion: float = 0.01
    duplicate: float = 0.03
    retry_with_new_id: float = 0.01  # deposit resent with a new event_id, same transaction
    late: float = 0.05
    device: float = 0.9  # journeys whose browser keeps the SDK's device cookie
    # A journey's clicks spread over this many days before its last one. Within the default
    # 30-day lookback, so every click on the device belongs to the registration's path.
    click_span_days: float = 14.0
    declined_deposit: float = 0.0  # of each deposit
    pending_payment: float = 0.0  # of each deposit or withdrawal not declined: pending, then approved
    withdrawal: float = 0.0  # of depositing journeys
    declined_withdrawal: float = 0.0  # of each withdrawal
    bonus: float = 0.0  # of depositing journeys: a bonus granted and played
    bonus_converted: float = 0.6  # of the bonuses granted; the rest are forfeited
    deposit_limit: float = 0.0  # of registered journeys (a responsible-gaming limit, not blocking)
    erasure: float = 0.0  # of registered journeys, as their last event
    retry_money_with_new_id: float = 0.0  # a withdrawal, wager, chargeback or bonus resent

    @classmethod
    def every_type(cls, **overrides: float) -> JourneyRates:
        """Rates under which every event type, every payment status and every kind of
        duplicate is frequent: about 2 % of the events or more for the rarest type."""
        rates = {
            "register_after_click": 0.6, "chargeback": 0.3, "consent_withdrawn": 0.25,
            "self_exclusion": 0.05, "duplicate": 0.04, "retry_with_new_id": 0.03,
            "declined_deposit": 0.15, "pending_payment": 0.2, "withdrawal": 0.45,
            "declined_withdrawal": 0.2, "bonus": 0.4, "deposit_limit": 0.2, "erasure": 0.2,
            "retry_money_with_new_id": 0.03,
        }
        return cls(**{**rates, **overrides})


@dataclass
class _Journey:
    """A registered player's journey while it is generated: what later steps need."""

    base: dict[str, str]
    affiliate: str
    t: datetime
    events: list[IngressEvent] = field(default_factory=list)

    def later(self, rng: random.Random, low_ms: int, high_ms: int) -> datetime:
        self.t += timedelta(milliseconds=rng.randint(low_ms, high_ms))
        return self.t


class LoadGenerator:
    """A seeded, endless stream of journey events; `truth` follows what has been generated."""

    def __init__(
        self,
        population: Population | None = None,
        rates: JourneyRates | None = None,
        seed: int = 1,
        postback_events: tuple[str, ...] = ("registration", "ftd"),
    ) -> None:
        self.population = population or Population.synthetic()
        self.rates = rates or JourneyRates()
        self.rng = random.Random(seed)
        self.truth = GroundTruth()
        self.postback_events = postback_events
        self._affiliates = sorted(self.population.affiliates)
        # Affiliates differ in volume, as they do: a few big ones, a long tail.
        self._weights = [1.0 / (i + 1) for i in range(len(self._affiliates))]
        self._held: list[tuple[int, IngressEvent]] = []  # late events waiting for their turn

    def _id(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def _currency(self) -> str:
        return self.rng.choices([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES])[0]

    def _journey_affiliates(self, clicks: int) -> list[str]:
        """Distinct affiliates, by their volume, while there are enough to differ."""
        chosen: list[str] = []
        for _ in range(clicks):
            pool = [a for a in self._affiliates if a not in chosen] or self._affiliates
            weights = [self._weights[self._affiliates.index(a)] for a in pool]
            chosen.append(self.rng.choices(pool, weights)[0])
        return chosen

    def _chance(self, rate: float) -> bool:
        """True with probability `rate`; a rate of 0 draws nothing (see JourneyRates)."""
        return bool(rate) and self.rng.random() < rate

    def _status(self, declined: float) -> Status:
        """A payment's outcome: declined, pending then approved, or approved at once."""
        if self._chance(declined):
            return "declined"
        return "pending" if self._chance(self.rates.pending_payment) else "approved"

    def journey(self, now: datetime) -> list[IngressEvent]:
        """One player's events in occurrence order; updates the ground truth.

        The clicks before the last one happened over the past days (the path a multi-touch
        model reads); the last click happens `now` and what follows it moves on from there."""
        rng, rates, truth = self.rng, self.rates, self.truth
        brand = rng.choice(self.population.brands)
        device = f"dev-{self._id()[:20]}" if rng.random() < rates.device else None
        t = now
        events: list[IngressEvent] = []
        clicks: list[Click] = []
        if rng.random() < rates.clicked:
            affiliates = self._journey_affiliates(rng.choice(CLICKS_PER_JOURNEY))
            span_s = rates.click_span_days * 86400
            ago = sorted((rng.uniform(0, span_s) for _ in affiliates[1:]), reverse=True) + [0.0]
            for affiliate, seconds in zip(affiliates, ago, strict=True):
                click = Click(
                    event_id=self._id(), occurred_at=now - timedelta(seconds=seconds),
                    brand_id=brand, source="tracker", click_id=f"c-{self._id()}",
                    affiliate_id=affiliate,
                    campaign_id=rng.choice(self.population.affiliates[affiliate]),
                    sub1=f"s{rng.randint(1, 9)}", country=rng.choice(("DE", "GB", "SE", "CA")),
                    device_id=device,
                )
                clicks.append(click)
                events.append(click)
                truth.row(affiliate, click.campaign_id).clicks += 1
            t += timedelta(milliseconds=rng.randint(5, 200))
            if rng.random() >= rates.register_after_click:
                return events
        return events + self._registered(brand, device, clicks, t)

    def _registered(
        self, brand: str, device: str | None, clicks: list[Click], t: datetime
    ) -> list[IngressEvent]:
        """A registration (with the journey's last click, if any) and what the player does."""
        rng, rates, truth = self.rng, self.rates, self.truth
        last_click = clicks[-1] if clicks else None
        base = {"brand_id": brand, "player_id": f"p-{self._id()[:16]}", "source": "crm"}
        affiliate = last_click.affiliate_id if last_click else ""
        campaign = last_click.campaign_id if last_click else ""
        row = truth.row(affiliate, campaign)
        j = _Journey(base, affiliate, t)
        registration = Registration(
            event_id=self._id(), occurred_at=t,
            click_id=last_click.click_id if last_click else None, device_id=device, **base,
        )
        j.events.append(registration)
        row.registrations += 1
        if last_click:
            touched = clicks if device else [last_click]
            truth.paths[(brand, base["player_id"])] = tuple(c.click_id for c in touched)
        # A postback needs its click (the affiliate) and the registration (the attribution).
        attributed = (
            (frozenset({last_click.event_id}), frozenset({registration.event_id}))
            if last_click else ()
        )
        if last_click and "registration" in self.postback_events:
            truth.expect_postback(affiliate, last_click.click_id, "registration", attributed)
        if rng.random() < rates.kyc:
            j.later(rng, 10, 200)
            j.events.append(Kyc(event_id=self._id(), occurred_at=j.t, status="verified", **base))
        if rng.random() < rates.consent_withdrawn:
            j.later(rng, 5, 50)
            j.events.append(Consent(event_id=self._id(), occurred_at=j.t,
                                    purpose="marketing_email", granted=False, **base))
        if rng.random() < rates.deposit:
            currency = self._currency()
            money = truth.money_row(affiliate, currency)
            approved = self._deposits(j, money, currency)
            if approved:
                row.ftds += 1
                row.deposits[currency] = row.deposits.get(currency, 0) + len(approved)
                row.deposit_sum[currency] = row.deposit_sum.get(currency, Decimal(0)) + sum(
                    (d.amount for d in approved), Decimal(0)
                )
                # The earliest approved deposit: the journey's times only move forward.
                money.add(ftds=1, ftd_sum=approved[0].amount)
            if approved and last_click and "ftd" in self.postback_events:
                # Whichever deposit is processed first may be the one the FTD is seen on.
                first_deposit = frozenset(d.event_id for d in approved)
                truth.expect_postback(
                    affiliate, last_click.click_id, "ftd", (*attributed, first_deposit)
                )
            if approved and self._chance(rates.bonus):
                self._bonus(j, money, currency)
            if approved and self._chance(rates.withdrawal):
                self._withdrawal(j, money, currency)
            if rng.random() < rates.chargeback and approved:
                disputed = rng.choice(approved)
                j.later(rng, 50, 500)
                j.events.append(
                    Chargeback(
                        event_id=self._id(), occurred_at=j.t, chargeback_id=f"cb-{self._id()}",
                        transaction_id=disputed.transaction_id, amount=disputed.amount,
                        currency=currency, reason="fraud", **base,
                    )
                )
                truth.chargebacks[currency] = (
                    truth.chargebacks.get(currency, Decimal(0)) + disputed.amount
                )
                money.add(chargebacks=1, chargeback_sum=disputed.amount)
            j.later(rng, 5, 50)
            j.events.append(Login(event_id=self._id(), occurred_at=j.t, **base))
        if rng.random() < rates.self_exclusion:
            j.later(rng, 5, 50)
            j.events.append(
                ResponsibleGaming(
                    event_id=self._id(), occurred_at=j.t, kind="self_exclusion", action="start",
                    **base,
                )
            )
            if last_click:
                truth.may_be_suppressed(affiliate, last_click.click_id)
        if self._chance(rates.deposit_limit):
            j.later(rng, 5, 50)
            j.events.append(ResponsibleGaming(
                event_id=self._id(), occurred_at=j.t, kind="deposit_limit", action="start",
                limit_amount=Decimal(rng.choice((100, 500, 1000))), currency="EUR", **base,
            ))
        if self._chance(rates.erasure):
            j.later(rng, 5, 50)
            j.events.append(ErasureRequest(event_id=self._id(), occurred_at=j.t,
                                           requested_by="player", **base))
        return j.events

    def _deposits(self, j: _Journey, money: MoneyTruth, currency: str) -> list[Deposit]:
        """One to five deposits, each followed by a few wagers; the approved ones (the event
        that approved each)."""
        rng = self.rng
        approved: list[Deposit] = []
        for _ in range(rng.choice((1, 1, 2, 3, 5))):
            j.later(rng, 20, 300)
            amount = Decimal(rng.choice(DEPOSIT_SIZES)) + Decimal(rng.choice(("0", "0.50")))
            deposit = Deposit(
                event_id=self._id(), occurred_at=j.t, transaction_id=f"tx-{self._id()}",
                amount=amount, currency=currency, method=rng.choice(("card", "wallet")),
                **j.base,
            )
            status = self._status(self.rates.declined_deposit)
            decided = self._payment(j, deposit, status)
            if status == "declined":
                money.add(declined_deposits=1)
            else:
                approved.append(decided)
                money.add(deposits=1, deposit_sum=amount)
            for _ in range(rng.randint(0, 3)):
                j.later(rng, 5, 50)
                self._wager(j, money, currency, Decimal(rng.choice((1, 2, 5, 10))))
        return approved

    def _payment(self, j: _Journey, made: P, status: Status) -> P:
        """A payment's events: as made (no status: approved), declined, or pending and
        approved a moment later; the last of them."""
        if status == "approved":
            j.events.append(made)
            return made
        made = made.model_copy(update={"status": status})
        j.events.append(made)
        if status == "declined":
            return made
        approval = made.model_copy(
            update={"event_id": self._id(), "occurred_at": j.later(self.rng, 20, 2000),
                    "status": "approved"}
        )
        j.events.append(approval)
        return approval

    def _wager(
        self, j: _Journey, money: MoneyTruth, currency: str, stake: Decimal,
        bonus_stake: Decimal = Decimal(0),
    ) -> None:
        rng = self.rng
        wager = Wager(
            event_id=self._id(), occurred_at=j.t, wager_id=f"w-{self._id()}",
            stake=stake, win=(stake + bonus_stake) * rng.choice((0, 0, 0, 2, 3)),
            bonus_stake=bonus_stake, currency=currency,
            game_category=rng.choice(GAME_CATEGORIES), **j.base,
        )
        j.events.append(wager)
        money.add(stakes=stake, wins=wager.win, bonus_stakes=bonus_stake)

    def _bonus(self, j: _Journey, money: MoneyTruth, currency: str) -> None:
        """A bonus granted, played with bonus stakes, then converted (a cost) or forfeited."""
        rng = self.rng
        bonus_id, amount = f"bn-{self._id()}", Decimal(rng.choice(BONUS_SIZES))
        j.later(rng, 5, 100)
        j.events.append(Bonus(event_id=self._id(), occurred_at=j.t, bonus_id=bonus_id,
                              action="granted", amount=amount, currency=currency, **j.base))
        for _ in range(rng.randint(1, 3)):
            j.later(rng, 5, 50)
            self._wager(j, money, currency, Decimal(rng.choice((0, 1, 2))),
                        Decimal(rng.choice((1, 2, 5))))
        j.later(rng, 5, 100)
        converted = rng.random() < self.rates.bonus_converted
        j.events.append(Bonus(event_id=self._id(), occurred_at=j.t, bonus_id=bonus_id,
                              action="converted" if converted else "forfeited", amount=amount,
                              currency=currency, **j.base))
        if converted:
            money.add(bonus_cost=amount)

    def _withdrawal(self, j: _Journey, money: MoneyTruth, currency: str) -> None:
        rng = self.rng
        j.later(rng, 50, 500)
        amount = Decimal(rng.choice(WITHDRAWAL_SIZES))
        made = Withdrawal(
            event_id=self._id(), occurred_at=j.t, transaction_id=f"wd-{self._id()}",
            amount=amount, currency=currency, **j.base,
        )
        status = self._status(self.rates.declined_withdrawal)
        self._payment(j, made, status)
        if status != "declined":
            money.add(withdrawals=1, withdrawal_sum=amount)

    def events(
        self, max_sends: int | None = None, stop: Callable[[], bool] | None = None
    ) -> Iterator[IngressEvent]:
        """Events in send order, with duplicates repeated and late ones pushed back.

        With `max_sends` (or once `stop()` is true) it stops at the next journey boundary and
        then sends the late events still held, so the ground truth covers exactly what was sent.
        """
        rng, rates, truth = self.rng, self.rates, self.truth
        held = self._held
        while (max_sends is None or truth.sends < max_sends) and not (stop and stop()):
            for event in self.journey(utcnow()):
                truth.count_event(event)
                if rng.random() < rates.late:
                    held.append((truth.sends + rng.randint(2, 8), event))
                    truth.late_sent += 1
                    continue
                truth.sends += 1
                yield event
                for again in self._duplicates_of(event):
                    truth.sends += 1
                    truth.duplicates_sent += 1
                    truth.natural_duplicates_sent += again.event_id != event.event_id
                    yield again
                due = [e for at, e in held if at <= truth.sends]
                held[:] = [(at, e) for at, e in held if at > truth.sends]
                for late in due:
                    truth.sends += 1
                    yield late
        while held:
            _, late = held.pop(0)
            truth.sends += 1
            yield late

    def _duplicates_of(self, event: IngressEvent) -> list[IngressEvent]:
        """The same event again, or an operator's retry: a new event id, the same natural key
        (a deposit's transaction; a withdrawal's, a wager's, a chargeback's, a bonus's id)."""
        if self.rng.random() < self.rates.duplicate:
            return [event]
        if isinstance(event, Deposit) and self.rng.random() < self.rates.retry_with_new_id:
            return [event.model_copy(update={"event_id": self._id()})]
        if isinstance(event, NATURAL_KEYED) and self._chance(self.rates.retry_money_with_new_id):
            return [event.model_copy(update={"event_id": self._id()})]
        return []
