"""A registration the click stage leaves unattributed is never silent: a log line and a count by
reason (docs/touchpoints.md, "Why a registration was left unattributed")."""

from __future__ import annotations

from datetime import timedelta

import structlog
from prometheus_client import REGISTRY

from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.clicks import decide_click
from clickpath.streams.clicks import _noted
from tests.factories import at, click, registration

WINDOW = AttributionWindow(timedelta(days=30))


def _count(reason: str) -> float:
    labels = {"reason": reason}
    return REGISTRY.get_sample_value("clickpath_registrations_unattributed_total", labels) or 0.0


def test_an_unattributed_decision_is_logged_and_counted_by_reason() -> None:
    before = _count("click_after_registration")
    state, _, _ = decide_click(None, click("c1", minutes=1 + 6), WINDOW, at(100))
    with structlog.testing.capture_logs() as logs:
        _noted(decide_click(state, registration("p1", "c1", minutes=1), WINDOW, at(100)))
    assert _count("click_after_registration") == before + 1
    [line] = [e for e in logs if e["event"] == "registration_unattributed"]
    assert (line["reason"], line["click_id"], line["click_minus_registration_s"]) == (
        "click_after_registration", "c1", 360.0)


def test_an_attributed_decision_is_neither_logged_nor_counted() -> None:
    before = sum(_count(r) for r in ("click_after_registration", "outside_lookback", "other_brand"))
    state, _, _ = decide_click(None, click("c1", minutes=1 + 0.7 / 60), WINDOW, at(100))
    with structlog.testing.capture_logs() as logs:
        _noted(decide_click(state, registration("p1", "c1", minutes=1), WINDOW, at(100)))
    assert not [e for e in logs if e["event"] == "registration_unattributed"]
    after = sum(_count(r) for r in ("click_after_registration", "outside_lookback", "other_brand"))
    assert after == before
