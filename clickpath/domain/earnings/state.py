"""What the earnings stage stores per brand account, the policy it runs under, and its clock.

The state is read and written with every batch of the player's records, so it stays small for
life: the period totals and the qualification evidence live in ledger rows beside it
(domain/ledger_rows.py `M|`, `Q|`, and the money rows of domain/money.py). A stored state is
read by later versions: a field is added with a default, never renamed or retyped.

Time: a commission period is a calendar month in the commission time zone. The shared money
functions place a day row by `occurred_at.date()`, so this stage applies each money event with
its `occurred_at` moved to the local wall clock read as if it were UTC (`local_wall`): its day
rows are local days, and a month of day rows is a period. The moved times stay inside this
stage's money rows; everything the stage sends and every qualification
time is the real event time (kept in the evidence rows). In the hour a DST change repeats, two
events can swap their order in the money rows (their local wall clocks tie or invert); totals
are unaffected. The FTD is the player stage's (from the profile), placed in the period of its
real time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from clickpath.domain.day_value import DayTotals
from clickpath.domain.fx import FxTable
from clickpath.domain.money import DepositRef
from clickpath.domain.plans import PlanBook
from clickpath.domain.plans import period_of as period_of


@dataclass(frozen=True)
class EarningsPolicy:
    """`book`: the plans; `time_zone`: the commission time zone (periods, registration day);
    `fx`: converts amounts in other currencies to a plan's currency for its thresholds (None:
    only amounts in the plan's currency count); `evidence_days`: how long after registration
    deposits and wagers are kept as evidence while no plan says (at least the longest
    `within_days` of any plan); `max_wagers_kept`: the most wagers kept as evidence while no
    plan says how many are needed."""

    book: PlanBook
    time_zone: ZoneInfo
    fx: FxTable | None = None
    evidence_days: int = 90
    max_wagers_kept: int = 500


class SentQualification(BaseModel):
    """The qualification last sent, to send a new version only when it changes."""

    affiliate_id: str
    status: str
    qualified_at: datetime | None = None
    reason: str | None = None
    plan_id: str | None = None
    plan_version: int | None = None
    caused_by: list[str] = []
    occurred_at: datetime
    shares_data: bool | None = None  # format 2 kept none
    # What the commissions stage's qualified_cpa postback reports, and whether it may (from
    # the profile): a change sends the qualification again.
    click_id: str | None = None
    subs: list[str | None] = []
    postback_block: str | None = None


class EarningsState(BaseModel):
    brand_id: str
    player_id: str
    # The current tag, from the newest PlayerProfile (by its `version`)
    affiliate_id: str = ""
    campaign_id: str = ""
    tag_status: str = ""
    # The newest profile's affiliate_data_sharing consent; None: no profile applied since
    # format 2, which did not keep it (sent as not known: the player is not shown to the
    # affiliate until a profile says they share)
    shares_data: bool | None = None
    click_id: str | None = None  # the tag's click and sub ids (the qualified_cpa postback's)
    subs: list[str | None] = []
    postback_block: str | None = None  # why no postback about the player may go (consent, RG)
    profile_version: int = -1
    former_affiliate_id: str | None = None  # the affiliate before the last re-tag (replays)
    registered_at: datetime | None = None  # the registration event's, else the profile's
    registration_event_id: str | None = None
    country: str | None = None  # the registration's
    kyc_verified_at: datetime | None = None  # the earliest verified KYC event
    kyc_event_id: str | None = None
    # The FTD's (period, currency), from the newest profile (the player stage's own FTD).
    ftd: tuple[str, str] | None = None
    # Format 1 followed the FTD itself, with local wall-clock times: read until a profile comes
    first_deposit: DepositRef | None = None
    lifetime: dict[str, DayTotals] = {}  # per currency (domain/day_value.py)
    wagering_met_at: datetime | None = None  # where the plan's wagering minimum was reached
    qualification: SentQualification | None = None
    periods: list[str] = []  # "YYYY-MM|CUR" of every period that has values
    version: int = 0

    @property
    def person_id(self) -> str:
        return f"{self.brand_id}:{self.player_id}"

    @property
    def attributed(self) -> bool:
        return self.tag_status == "attributed" and bool(self.affiliate_id)


def ftd_of(state: EarningsState) -> tuple[str, str] | None:
    """The (period, currency) the player's FTD counts in, if they have one."""
    if state.ftd is not None or state.first_deposit is None:
        return state.ftd
    first = state.first_deposit  # a format-1 state no profile has updated yet
    return period_of_day(first.occurred_at.date()), first.currency


def copy_for_update(state: EarningsState) -> EarningsState:
    """A copy the decision may change without touching `state` (only these containers are
    changed in place)."""
    return state.model_copy(
        update={
            "lifetime": {k: v.model_copy() for k, v in state.lifetime.items()},
            "periods": list(state.periods),
        }
    )


def local_wall(at: datetime, tz: ZoneInfo) -> datetime:
    """`at` as the wall clock in `tz`, read as UTC (the money rows' time, module docstring)."""
    return at.astimezone(tz).replace(tzinfo=UTC)


def period_of_day(day: date) -> str:
    """The period of a local day (a money row's day)."""
    return f"{day.year:04d}-{day.month:02d}"


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


Convert = Callable[[Decimal, str, str, date], Decimal | None]


def converter(fx: FxTable | None) -> Convert:
    """Amount in `source` as `target` on `day`, through the reporting currency; None when no
    rate is in effect (the amount does not count towards a threshold, never guessed)."""

    def convert(amount: Decimal, source: str, target: str, day: date) -> Decimal | None:
        if source == target:
            return amount
        if fx is None:
            return None
        there, back = fx.rate(source, day), fx.rate(target, day)
        if there is None or back is None:
            return None
        return amount * there / back

    return convert
