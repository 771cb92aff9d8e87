"""What the commission stage stores per affiliate: a small state, and ledger rows beside it.

The state is read and written with every batch of the affiliate's records, so it holds only
the list of periods with RevShare activity (the carry-over chain). What grows with players
lives in ledger rows (clickpath.domain.ledger), each read only when a record needs it:

- `V|<person>|<period>|<currency>`: a player's newest PlayerPeriodValue (version, NGR lines)
  and what the period's sums count of it;
- `Q|<person>`: the newest PlayerQualification, the CPA amounts written per bucket and the
  player status last sent (status.py);
- `I|<person>`: the player's value rows and the fraud flags seen;
- `F|<flag_id>`: a flag applied (its dedup);
- `C|<period>`: the players who qualified in the period (the monthly cap's order, the
  qualified count);
- `R|<period>|<currency>`: the period's RevShare sums and what its entries sum to;
- `T|<period>|<currency>`: the affiliate's own commission written in the period and the
  sub-affiliate share written for its parent.

Every row that a record updates keeps the entries that record wrote (`sent`, for the
replay). A stored row is read by later versions: fields are added with defaults, never renamed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from clickpath.contracts.models.commissions import FlagAction, QualificationStatus

ZERO = Decimal(0)
# Each bucket's written sum in the payout currency and in the original currency.
Written = dict[str, tuple[Decimal, Decimal]]


class AffiliateState(BaseModel):
    affiliate_id: str
    periods: list[str] = []  # periods with a RevShare row, ascending: the carry-over chain
    version: int = 0


class Sent(BaseModel):
    """The entries written by the record versions applied with the latest `now` (one batch):
    what a replay after a crash sends again."""

    sent: dict[str, list[dict[str, Any]]] = {}
    sent_status: dict[str, list[dict[str, Any]]] = {}  # the AffiliatePlayerStatus records too
    sent_at: datetime | None = None
    # The other outputs (the qualified_cpa postback, webhook or suppression): (topic, record)
    notices: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    def keep(
        self, version: int, entries: list[dict[str, Any]], now: datetime,
        statuses: list[dict[str, Any]] | None = None,
        notices: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> None:
        if self.sent_at != now:
            self.sent, self.sent_status, self.notices = {}, {}, {}
            self.sent_at = now
        self.sent[str(version)] = entries
        if statuses:
            self.sent_status[str(version)] = statuses
        if notices:
            self.notices[str(version)] = notices


class ValueRow(Sent):
    version: int = 0
    brand_id: str = ""
    country: str | None = None
    registered_at: datetime | None = None
    stakes: Decimal = ZERO
    wins: Decimal = ZERO
    bonus_cost: Decimal = ZERO
    chargeback_sum: Decimal = ZERO
    deposit_sum: Decimal = ZERO
    withdrawal_sum: Decimal = ZERO
    ftds: int = 0
    real_wagers: int = 0
    # What the period's sums (R row) count of this player now, in the period plan's currency
    counted_ngr: Decimal = ZERO
    counted_ftds: int = 0
    counted_active: int = 0
    unpriced: bool = False  # no FX rate in effect for the player's currency: counted as 0


class QualificationRow(Sent):
    version: int = 0
    status: QualificationStatus = "none"
    qualified_at: datetime | None = None
    ended_at: datetime | None = None  # the reversal's (or "none"'s) occurred_at
    reason: str | None = None
    plan_id: str | None = None
    plan_version: int | None = None
    brand_id: str = ""
    country: str | None = None
    campaign_id: str | None = None  # the campaign the player had when its CPA was written
    registered_at: datetime | None = None
    paid: bool | None = None  # within the monthly cap when last evaluated
    written: Written = {}  # "<role>|<period>" -> (payout, original)
    shares_data: bool = False  # the record's affiliate_data_sharing consent (not known: False)
    status_digest: str | None = None  # of the AffiliatePlayerStatus last sent (status.py)
    status_version: int = 0
    # What the qualified_cpa postback reports (the profile's, through the qualification), and
    # whether it was made (sent or suppressed): once per player and affiliate, ever.
    click_id: str | None = None
    subs: list[str | None] = []
    postback_block: str | None = None
    reported: bool = False


class FlagMark(BaseModel):
    action: FlagAction
    flagged_at: datetime
    kind: str | None = None  # the flag's kind (format 2 kept none)


class PlayerRow(BaseModel):
    values: list[str] = []  # the player's V row keys
    flags: dict[str, FlagMark] = {}

    def fraud(self) -> tuple[Literal["clear", "held", "clawed"], datetime | None]:
        """What the flags seen say, whatever order they came in: clawed back for good by the
        earliest clawback; else held when the latest hold/release (flagged_at, flag_id) holds."""
        clawbacks = [m.flagged_at for m in self.flags.values() if m.action == "clawback"]
        if clawbacks:
            return "clawed", min(clawbacks)
        marks = sorted((m.flagged_at, fid, m.action) for fid, m in self.flags.items())
        if marks and marks[-1][2] == "hold":
            return "held", marks[-1][0]
        return "clear", None


class FlagRow(Sent):
    applied: bool = True


class CpaPeriodRow(BaseModel):
    # person -> (qualified_at, standing, the plan's monthly cap)
    players: dict[str, tuple[datetime, bool, int | None]] = {}

    def paid(self) -> set[str]:
        """The players within the monthly cap: the N earliest by qualified_at (ties by
        person id), N being each one's plan's cap."""
        if all(cap is None for _, _, cap in self.players.values()):
            return set(self.players)  # no cap: no order to sort
        ranked = sorted(self.players.items(), key=lambda kv: (kv[1][0], kv[0]))
        return {p for i, (p, (_, _, cap)) in enumerate(ranked) if cap is None or i < cap}

    def qualified(self) -> int:
        return sum(1 for _, standing, _ in self.players.values() if standing)


class PeriodRow(BaseModel):
    ngr: Decimal = ZERO  # in the period plan's currency
    ftds: int = 0
    active: int = 0
    band: int | None = None
    revshare: Decimal = ZERO  # written, payout currency
    revshare_original: Decimal = ZERO
    accrued: bool = False  # a RevShare entry was written
    carry_in: Decimal = ZERO  # written (<= 0 due)
    carry_out: Decimal = ZERO  # written (>= 0 due)


class TotalsRow(BaseModel):
    own: Decimal = ZERO  # cpa + revshare + carry_over written, payout currency
    sub: Decimal = ZERO  # the parent's share written, the parent's payout currency
    sub_original: Decimal = ZERO
    sub_accrued: bool = False


def value_key(person_id: str, period: str, currency: str) -> str:
    return f"V|{person_id}|{period}|{currency}"


def qualification_key(person_id: str) -> str:
    return f"Q|{person_id}"


def player_key(person_id: str) -> str:
    return f"I|{person_id}"


def flag_key(flag_id: str) -> str:
    return f"F|{flag_id}"


def cpa_period_key(period: str) -> str:
    return f"C|{period}"


def period_key(period: str, currency: str) -> str:
    return f"R|{period}|{currency}"


def totals_key(period: str, currency: str) -> str:
    return f"T|{period}|{currency}"
