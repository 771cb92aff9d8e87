"""The load generator's ground truth: what the pipeline must report for the events it sent.

Kept by clickpath.devtools.loadgen as it generates journeys, from what each journey *means*
(which deposits end approved, which wagers were placed), never from pipeline code: the money
figures follow the definitions operators use, written out here on their own (an approved
deposit counts, a declined one only as declined; GGR = stakes - wins; NGR = GGR - bonus cost -
chargebacks), so a fault in the pipeline's own aggregation cannot hide in its truth.
`clickpath.devtools.verify` compares the two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from clickpath.contracts.models import IngressEvent


@dataclass
class FunnelTruth:
    clicks: int = 0
    registrations: int = 0
    ftds: int = 0
    deposits: dict[str, int] = field(default_factory=dict)
    deposit_sum: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class MoneyTruth:
    """One affiliate's figures in one currency, as the report carries them.

    Counts: approved deposits, declined deposits, approved withdrawals, chargebacks, FTDs (the
    player's earliest approved deposit). Money: the sums of the same, and of the wagers'
    real-money stakes, wins and bonus stakes, and the bonuses converted to real money."""

    ftds: int = 0
    deposits: int = 0
    declined_deposits: int = 0
    withdrawals: int = 0
    chargebacks: int = 0
    ftd_sum: Decimal = Decimal(0)
    deposit_sum: Decimal = Decimal(0)
    withdrawal_sum: Decimal = Decimal(0)
    chargeback_sum: Decimal = Decimal(0)
    stakes: Decimal = Decimal(0)
    wins: Decimal = Decimal(0)
    bonus_stakes: Decimal = Decimal(0)
    bonus_cost: Decimal = Decimal(0)

    @property
    def ggr(self) -> Decimal:
        """Gross gaming revenue: what players staked less what they won."""
        return self.stakes - self.wins

    @property
    def ngr(self) -> Decimal:
        """Net gaming revenue: GGR less converted bonuses and chargebacks (fees come later)."""
        return self.ggr - self.bonus_cost - self.chargeback_sum

    def figures(self) -> dict[str, int | Decimal]:
        """Every figure by its report name, GGR and NGR included."""
        out: dict[str, int | Decimal] = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**out, "ggr": self.ggr, "ngr": self.ngr}

    def add(self, **deltas: int | Decimal) -> None:
        for name, delta in deltas.items():
            setattr(self, name, getattr(self, name) + delta)


MONEY_COUNTS = tuple(f.name for f in fields(MoneyTruth) if f.type == "int")
MONEY_AMOUNTS = (*(f.name for f in fields(MoneyTruth) if f.type == "Decimal"), "ggr", "ngr")


@dataclass
class GroundTruth:
    """What the pipeline must report for the events generated so far."""

    funnel: dict[tuple[str, str], FunnelTruth] = field(default_factory=dict)
    # Per (affiliate, currency); the affiliate is "" for organic players.
    money: dict[tuple[str, str], MoneyTruth] = field(default_factory=dict)
    postbacks: set[tuple[str, str, str]] = field(default_factory=set)  # affiliate, click, event
    # Postbacks a self-exclusion may stop: whether it does depends on whether the player's
    # attribution comes back before or after it is processed, which no generator can know.
    optional_postbacks: set[tuple[str, str, str]] = field(default_factory=set)
    unique_events: int = 0
    events_by_type: dict[str, int] = field(default_factory=dict)
    sends: int = 0
    duplicates_sent: int = 0
    natural_duplicates_sent: int = 0  # a new event id, the same natural key (not stored)
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

    def money_row(self, affiliate: str, currency: str) -> MoneyTruth:
        return self.money.setdefault((affiliate, currency), MoneyTruth())

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
            "money": [
                {"affiliate_id": aff, "currency": cur,
                 **{k: str(v) for k, v in m.figures().items() if k not in ("ggr", "ngr")}}
                for (aff, cur), m in sorted(self.money.items())
            ],
            "postbacks": sorted(list(p) for p in self.postbacks),
            "optional_postbacks": sorted(list(p) for p in self.optional_postbacks),
            "unique_events": self.unique_events,
            "events_by_type": dict(sorted(self.events_by_type.items())),
            "sends": self.sends,
            "duplicates_sent": self.duplicates_sent,
            "natural_duplicates_sent": self.natural_duplicates_sent,
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
            natural_duplicates_sent=data.get("natural_duplicates_sent", 0),
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
        for row in data.get("money", []):
            money = truth.money_row(row["affiliate_id"], row["currency"])
            money.add(**{k: int(row[k]) for k in MONEY_COUNTS})
            money.add(**{k: Decimal(row[k]) for k in MONEY_AMOUNTS if k not in ("ggr", "ngr")})
        return truth
