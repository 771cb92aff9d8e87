"""One record's decision in progress: the rows it read (each read once, written once at the
end), the entries it wrote, and how every entry is named and stamped.

Entries are differences: `Run.entry` is only called with what is due now minus what the
bucket's entries already sum to, so every total is the exact sum of its entries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel

from clickpath.contracts.models.commissions import EntryComponent, EntryKind, LedgerEntry
from clickpath.contracts.topics import Topic
from clickpath.domain.commissions.policy import CommissionPolicy, wire
from clickpath.domain.commissions.state import AffiliateState, TotalsRow, totals_key
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Output
from clickpath.domain.pseudonym import player_token

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Cause:
    """The input an entry is written for: its identity and version name the entry."""

    identity: str  # the record's row key (V|..., Q|..., F|...)
    version: int
    caused_by: list[str]
    occurred_at: datetime
    value_cause: str | None = None  # a PlayerPeriodValue's cause ("chargeback", "retag" ...)
    reason: str | None = None  # the reason RevShare moves carry (retag, fraud_hold ...)


@dataclass
class Run:
    state: AffiliateState
    policy: CommissionPolicy
    now: datetime
    ledger: Ledger
    cause: Cause
    outputs: list[Output] = field(default_factory=list)  # ledger entries (their index names them)
    notices: list[Output] = field(default_factory=list)  # qualified_cpa postbacks and webhooks
    revshare_periods: set[str] = field(default_factory=set)  # to re-evaluate
    own_periods: set[str] = field(default_factory=set)  # own entries written: the parent's share
    # The player statuses that changed (status.py), sent after the entries: apart from
    # `outputs`, whose count names the entries
    statuses: dict[str, Output] = field(default_factory=dict)
    _rows: dict[str, BaseModel] = field(default_factory=dict)

    @property
    def affiliate_id(self) -> str:
        return self.state.affiliate_id

    @property
    def currency(self) -> str:
        return self.policy.payout_currency(self.affiliate_id)

    def row(self, key: str, model: type[M]) -> M:
        """The row, read once per decision; changes are written back by `write_rows`."""
        if key not in self._rows:
            stored = self.ledger.get(key)
            self._rows[key] = model.model_validate(stored) if stored is not None else model()
        row = self._rows[key]
        assert isinstance(row, model)
        return row

    def exists(self, key: str) -> bool:
        return key in self._rows or self.ledger.get(key) is not None

    def write_rows(self) -> None:
        for key, row in self._rows.items():
            self.ledger.put(key, row.model_dump(mode="json"))

    def entry(
        self,
        *,
        period: str,
        kind: EntryKind,
        component: EntryComponent,
        amount: Decimal,
        original_amount: Decimal,
        original_currency: str,
        fx_rate: Decimal,
        plan: tuple[str, int],
        person_id: str | None = None,
        player: tuple[datetime | None, str | None, str | None] = (None, None, None),
        reason: str | None = None,
        affiliate_id: str | None = None,
        currency: str | None = None,
    ) -> None:
        """Write one entry (for the parent when `affiliate_id` names it), keyed by its
        affiliate; `player` is the (registration, brand, campaign) of the player an entry about
        one player is on, for the cohort report. Count the affiliate's own entries in the period's total."""
        owner = affiliate_id or self.affiliate_id
        currency = currency or self.currency
        index = len(self.outputs)
        c = self.cause
        name = f"{self.affiliate_id}|{c.identity}|{c.version}|{component}|{kind}|{period}|{index}"
        entry = LedgerEntry(
            entry_id=hashlib.sha256(name.encode()).hexdigest()[:32],
            affiliate_id=owner,
            period=period,
            kind=kind,
            component=component,
            amount=amount,
            currency=currency,
            original_amount=wire(original_amount),
            original_currency=original_currency,
            fx_rate=wire(fx_rate),
            plan_id=plan[0],
            plan_version=plan[1],
            player_token=(
                None if person_id is None
                else player_token(self.policy.pseudonym_key, owner, person_id)
            ),
            caused_by=list(c.caused_by),
            reason=reason,
            occurred_at=c.occurred_at,
            recorded_at=self.now,
            registered_at=player[0],
            player_brand_id=player[1],
            player_campaign_id=player[2],
        )
        self.outputs.append(Output(Topic.COMMISSION_LEDGER, owner, entry))
        if owner == self.affiliate_id:
            totals = self.row(totals_key(period, currency), TotalsRow)
            totals.own += amount
            self.own_periods.add(period)
