"""The click stage, declared: clicks and the click links registrations emit, keyed `click_id`.

Both inputs are keyed by click id, so a click and its registration meet in one partition; the
stage decides attribution once it has both (clickpath.domain.clicks) and forwards the
registration with its Attribution to the player stage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from clickpath.contracts.models import Attribution, Click, ClickLink, Registration
from clickpath.contracts.topics import Topic
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.clicks import ClickState, decide_click, replay_click_outputs
from clickpath.domain.ledger import Ledger
from clickpath.domain.outputs import Outcome, Output
from clickpath.domain.runs import Positioned
from clickpath.infra.metrics import REGISTRATIONS_UNATTRIBUTED
from clickpath.streams.runtime import Stage

log = structlog.get_logger(__name__)

STATE_FORMAT = 1


def click_stage(window: AttributionWindow) -> Stage[ClickState]:
    def decide(state: ClickState | None, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> tuple[ClickState, list[Output], Outcome]:
        return _noted(decide_click(state, item.record, window, now))

    def replay(state: ClickState, item: Positioned[Any], now: datetime,
               ledger: Ledger | None) -> list[Output]:
        return replay_click_outputs(state, item.record, now)

    return Stage(
        name="clicks",
        inputs=(Topic.CLICKS, Topic.CLICK_LINKS),
        key_of=lambda record: record.click_id or "",
        accepts=(Click, ClickLink, Registration),
        state_model=ClickState,
        state_format=STATE_FORMAT,
        decide=decide,
        replay=replay,
        timed=Click,
    )


def _noted(decided: tuple[ClickState, list[Output], Outcome]) -> tuple[ClickState, list[Output], Outcome]:
    """A click decision, with every registration it leaves unattributed logged and counted by
    reason: an operator sees why a player was not paid for (a replay is not counted again)."""
    for out in decided[1]:
        a = out.record
        if isinstance(a, Attribution) and a.status == "unattributed":
            REGISTRATIONS_UNATTRIBUTED.labels(a.reason or "unknown").inc()
            gap = (a.clicked_at - a.registered_at).total_seconds() if a.clicked_at else None
            log.info("registration_unattributed", reason=a.reason, brand_id=a.brand_id,
                     click_id=a.click_id, click_minus_registration_s=gap)
    return decided
