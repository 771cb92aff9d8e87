"""Synthetic operators, affiliates and player journeys, with the ground truth they imply.

The generator plays journeys the way operators' feeds look: players click one to four
affiliates' links over the days before registering with the last one (the tracker's cookie
holds the last click), most on one device whose id (the web SDK's first-party cookie) their
clicks and registration carry, so the person's earlier clicks are linked to their path too
(docs/touchpoints.md); some register organically, most clicks never register; KYC, deposits of realistic sizes
in several currencies, wagers, chargebacks, consent changes and self-exclusions follow. Some
events are sent twice (same event, or an operator retry with a new event id and the same
transaction id) and some arrive late, after later events of the same journey.

The ground truth is computed here, from the journeys as they were generated, without any
pipeline code: it is what the pipeline's outputs must equal (`clickpath.devtools.verify`).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from clickpath.contracts.models import (
    Chargeback,
    Click,
    Consent,
    Deposit,
    IngressEvent,
    Kyc,
    Login,
    Registration,
    ResponsibleGaming,
    Wager,
    utcnow,
)

CURRENCIES = (("EUR", 0.6), ("GBP", 0.2), ("CAD", 0.1), ("SEK", 0.1))
DEPOSIT_SIZES = (10, 10, 20, 20, 20, 25, 50, 50, 100, 100, 200, 500, 1000)
CLICKS_PER_JOURNEY = (1, 1, 2, 2, 3, 4)
GAME_CATEGORIES = ("casino", "live_casino", "sports", "poker")


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
    """How journeys branch; the defaults are in the range operators report."""

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


@dataclass
class FunnelTruth:
    clicks: int = 0
    registrations: int = 0
    ftds: int = 0
    deposits: dict[str, int] = field(default_factory=dict)
    deposit_sum: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class GroundTruth:
    """What the pipeline must report for the events generated so far."""

    funnel: dict[tuple[str, str], FunnelTruth] = field(default_factory=dict)
    postbacks: set[tuple[str, str, str]] = field(default_factory=set)  # affiliate, click, event
    # Postbacks a self-exclusion may stop: whether it does depends on whether the player's
    # attribution comes back before or after it is processed, which no generator can know.
    optional_postbacks: set[tuple[str, str, str]] = field(default_factory=set)
    unique_events: int = 0
    events_by_type: dict[str, int] = field(default_factory=dict)
    sends: int = 0
    duplicates_sent: int = 0
    late_sent: int = 0
    chargebacks: dict[str, Decimal] = field(default_factory=dict)
    # Each registered player's touchpoints, (brand, player) -> click ids oldest first: the
    # journey's clicks when it had a device id, else the named click alone.
    paths: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    # The events each expected postback needs, as groups of event ids: the pipeline cannot send
    # it before one event of every group was produced, so the benchmark measures its latency
    # from the moment the last of them was (clickpath.devtools.bench.latency.produced_at).
    postback_needs: dict[tuple[str, str, str], tuple[frozenset[str], ...]] = field(
        default_factory=dict, repr=False
    )

    def expect_postback(
        self, affiliate: str, click_id: str, event: str, needs: tuple[frozenset[str], ...]
    ) -> None:
        self.postbacks.add((affiliate, click_id, event))
        self.postback_needs[(affiliate, click_id, event)] = needs

    def may_be_suppressed(self, affiliate: str, click_id: str) -> None:
        for event in ("registration", "ftd"):
            key = (affiliate, click_id, event)
            if key in self.postbacks:
                self.postbacks.discard(key)
                self.optional_postbacks.add(key)

    def row(self, affiliate: str, campaign: str) -> FunnelTruth:
        return self.funnel.setdefault((affiliate, campaign), FunnelTruth())

    def count_event(self, event: IngressEvent) -> None:
        self.unique_events += 1
        self.events_by_type[event.event_type] = self.events_by_type.get(event.event_type, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "funnel": [
                {
                    "affiliate_id": aff,
                    "campaign_id": camp,
                    "clicks": f.clicks,
                    "registrations": f.registrations,
                    "ftds": f.ftds,
                    "deposits": f.deposits,
                    "deposit_sum": {c: str(s) for c, s in sorted(f.deposit_sum.items())},
                }
                for (aff, camp), f in sorted(self.funnel.items())
            ],
            "postbacks": sorted(list(p) for p in self.postbacks),
            "optional_postbacks": sorted(list(p) for p in self.optional_postbacks),
            "unique_events": self.unique_events,
            "events_by_type": dict(sorted(self.events_by_type.items())),
            "sends": self.sends,
            "duplicates_sent": self.duplicates_sent,
            "late_sent": self.late_sent,
            "chargebacks": {c: str(s) for c, s in sorted(self.chargebacks.items())},
            "paths": [[b, p, list(c)] for (b, p), c in sorted(self.paths.items())],
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroundTruth:
        truth = cls(
            postbacks={tuple(p) for p in data["postbacks"]},
            optional_postbacks={tuple(p) for p in data.get("optional_postbacks", [])},
            unique_events=data["unique_events"],
            events_by_type=data["events_by_type"],
            sends=data["sends"],
            duplicates_sent=data["duplicates_sent"],
            late_sent=data["late_sent"],
            chargebacks={c: Decimal(s) for c, s in data["chargebacks"].items()},
            paths={(b, p): tuple(c) for b, p, c in data.get("paths", [])},
        )
        for row in data["funnel"]:
            truth.funnel[(row["affiliate_id"], row["campaign_id"])] = FunnelTruth(
                clicks=row["clicks"],
                registrations=row["registrations"],
                ftds=row["ftds"],
                deposits=row["deposits"],
                deposit_sum={c: Decimal(s) for c, s in row["deposit_sum"].items()},
            )
        return truth


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
        last_click = clicks[-1] if clicks else None
        base = {"brand_id": brand, "player_id": f"p-{self._id()[:16]}", "source": "crm"}
        affiliate = last_click.affiliate_id if last_click else ""
        campaign = last_click.campaign_id if last_click else ""
        row = truth.row(affiliate, campaign)
        events.append(
            Registration(
                event_id=self._id(), occurred_at=t,
                click_id=last_click.click_id if last_click else None, device_id=device, **base,
            )
        )
        row.registrations += 1
        if last_click:
            touched = clicks if device else [last_click]
            truth.paths[(brand, base["player_id"])] = tuple(c.click_id for c in touched)
        registration = events[-1]
        # A postback needs its click (the affiliate) and the registration (the attribution).
        attributed = (
            (frozenset({last_click.event_id}), frozenset({registration.event_id}))
            if last_click else ()
        )
        if last_click and "registration" in self.postback_events:
            truth.expect_postback(affiliate, last_click.click_id, "registration", attributed)
        if rng.random() < rates.kyc:
            t += timedelta(milliseconds=rng.randint(10, 200))
            events.append(Kyc(event_id=self._id(), occurred_at=t, status="verified", **base))
        if rng.random() < rates.consent_withdrawn:
            t += timedelta(milliseconds=rng.randint(5, 50))
            events.append(
                Consent(
                    event_id=self._id(), occurred_at=t, purpose="marketing_email", granted=False,
                    **base,
                )
            )
        if rng.random() < rates.deposit:
            currency = self._currency()
            deposits: list[Deposit] = []
            for _ in range(rng.choice((1, 1, 2, 3, 5))):
                t += timedelta(milliseconds=rng.randint(20, 300))
                amount = Decimal(rng.choice(DEPOSIT_SIZES)) + Decimal(rng.choice(("0", "0.50")))
                deposit = Deposit(
                    event_id=self._id(), occurred_at=t, transaction_id=f"tx-{self._id()}",
                    amount=amount, currency=currency, method=rng.choice(("card", "wallet")),
                    **base,
                )
                deposits.append(deposit)
                events.append(deposit)
                for _ in range(rng.randint(0, 3)):
                    t += timedelta(milliseconds=rng.randint(5, 50))
                    stake = Decimal(rng.choice((1, 2, 5, 10)))
                    events.append(
                        Wager(
                            event_id=self._id(), occurred_at=t, wager_id=f"w-{self._id()}",
                            stake=stake, win=stake * rng.choice((0, 0, 0, 2, 3)),
                            bonus_stake=Decimal(0), currency=currency,
                            game_category=rng.choice(GAME_CATEGORIES), **base,
                        )
                    )
            row.ftds += 1
            row.deposits[currency] = row.deposits.get(currency, 0) + len(deposits)
            row.deposit_sum[currency] = row.deposit_sum.get(currency, Decimal(0)) + sum(
                (d.amount for d in deposits), Decimal(0)
            )
            if last_click and "ftd" in self.postback_events:
                # Whichever deposit is processed first may be the one the FTD is seen on.
                first_deposit = frozenset(d.event_id for d in deposits)
                truth.expect_postback(
                    affiliate, last_click.click_id, "ftd", (*attributed, first_deposit)
                )
            if rng.random() < rates.chargeback:
                disputed = rng.choice(deposits)
                t += timedelta(milliseconds=rng.randint(50, 500))
                events.append(
                    Chargeback(
                        event_id=self._id(), occurred_at=t, chargeback_id=f"cb-{self._id()}",
                        transaction_id=disputed.transaction_id, amount=disputed.amount,
                        currency=currency, reason="fraud", **base,
                    )
                )
                truth.chargebacks[currency] = (
                    truth.chargebacks.get(currency, Decimal(0)) + disputed.amount
                )
            t += timedelta(milliseconds=rng.randint(5, 50))
            events.append(Login(event_id=self._id(), occurred_at=t, **base))
        if rng.random() < rates.self_exclusion:
            t += timedelta(milliseconds=rng.randint(5, 50))
            events.append(
                ResponsibleGaming(
                    event_id=self._id(), occurred_at=t, kind="self_exclusion", action="start",
                    **base,
                )
            )
            if last_click:
                truth.may_be_suppressed(affiliate, last_click.click_id)
        return events

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
        if self.rng.random() < self.rates.duplicate:
            return [event]
        if isinstance(event, Deposit) and self.rng.random() < self.rates.retry_with_new_id:
            return [event.model_copy(update={"event_id": self._id()})]
        return []
