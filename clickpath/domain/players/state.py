"""What the player stage stores per player, and the policy its decisions run under.

The state is read and written with every batch of the player's events, so it must stay small
for life: what grows with history lives in the ledger rows passed beside it (domain/ledger.py),
never in it. A stored state is read by later versions: a field is added with a default, never
renamed or retyped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from clickpath.domain.consent import ConsentMark, RgMark
from clickpath.domain.day_value import DayTotals
from clickpath.domain.money import DepositRef


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
    # erased (docs/privacy.md#erasure): the tag keeps no sub ids, now or after a re-tag
    erased: bool = False
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


def copy_for_update(state: PlayerState) -> PlayerState:
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
