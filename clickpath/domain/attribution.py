"""Contract attribution: which affiliate is paid for a registration.

The industry default (docs/architecture.md): the last affiliate click before registration within the
lookback window; the player stays tagged to that affiliate for life. Here the click is the one
the registration names; the identity graph will add clicks reached through other identifiers.

"Before registration" allows for clock skew (docs/touchpoints.md, "The window"): the click's
time is the tracker's clock, the registration's the operator's back end, and a visitor who
registers within the second of the click (or an operator that stamps whole seconds) would
otherwise be unattributed for a few milliseconds. A click up to `clock_skew` after the
registration still counts. The same window decides the ClickHouse touchpoint links
(`clickpath.infra.touchpoints`), so a path and the contract attribution never disagree on it.

An unattributed decision names why with one of `UNATTRIBUTED_REASONS`, a stable code that the
`attributions` table, the log line and the metric by reason all carry. A registration whose
click was never seen is not decided at all (the click may still come, from a late import): it
waits, and docs/touchpoints.md shows the query that lists such registrations (`click_unknown`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from clickpath.contracts.models import Attribution, Click, ClickLink

DEFAULT_CLOCK_SKEW_S: Final = 300
DEFAULT_LOOKBACK_DAYS: Final = 30  # the industry's: a click counts for 30 days

UnattributedReason = Literal[
    "other_brand",  # the click is another brand's
    "click_after_registration",  # later than the registration by more than the clock skew
    "outside_lookback",  # earlier than the registration by more than the lookback
]
UNATTRIBUTED_REASONS: Final[tuple[UnattributedReason, ...]] = (
    "other_brand", "click_after_registration", "outside_lookback",
)


@dataclass(frozen=True)
class AttributionWindow:
    """Which click times count for a registration at `registered_at`:
    `registered_at - lookback <= clicked_at <= registered_at + clock_skew`, both ends included."""

    lookback: timedelta
    clock_skew: timedelta = timedelta(seconds=DEFAULT_CLOCK_SKEW_S)

    def starts(self, registered_at: datetime) -> datetime:
        return registered_at - self.lookback

    def ends(self, registered_at: datetime) -> datetime:
        return registered_at + self.clock_skew

    def miss(self, clicked_at: datetime, registered_at: datetime) -> UnattributedReason | None:
        """Why a click at `clicked_at` is outside the window, or None when it is inside."""
        if clicked_at > self.ends(registered_at):
            return "click_after_registration"
        if clicked_at < self.starts(registered_at):
            return "outside_lookback"
        return None

    def holds(self, clicked_at: datetime, registered_at: datetime) -> bool:
        return self.miss(clicked_at, registered_at) is None


def attribute(
    click: Click, link: ClickLink, window: AttributionWindow, now: datetime
) -> Attribution:
    """Decide one registration's attribution from the click it names, by event time."""
    reason: UnattributedReason | None = (
        "other_brand" if click.brand_id != link.brand_id
        else window.miss(click.occurred_at, link.registered_at)
    )
    common = dict(
        person_id=link.person_id,
        brand_id=link.brand_id,
        player_id=link.player_id,
        click_id=link.click_id,
        clicked_at=click.occurred_at,
        registered_at=link.registered_at,
        decided_at=now,
    )
    if reason:
        return Attribution(status="unattributed", reason=reason, **common)
    return Attribution(
        status="attributed",
        affiliate_id=click.affiliate_id,
        campaign_id=click.campaign_id,
        sub1=click.sub1,
        sub2=click.sub2,
        sub3=click.sub3,
        sub4=click.sub4,
        sub5=click.sub5,
        **common,
    )
