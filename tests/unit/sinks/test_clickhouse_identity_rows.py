"""The identity tables' rows (sinks/clickhouse/rows.py, deploy/clickhouse/013): every field of
each record has its column, the accounts are split into brand and player, and a batch writes
each key's highest version (each change id, each touchpoint) once."""

from __future__ import annotations

from datetime import UTC, datetime

from clickpath.contracts.models import IdentityLink, MultiAccountSignal, PersonChange, TouchpointLink
from clickpath.sinks.clickhouse.rows import (
    IDENTITY_TOUCHPOINT_COLUMNS,
    LINK_COLUMNS,
    PERSON_CHANGE_COLUMNS,
    SIGNAL_COLUMNS,
    identity_touchpoint_rows,
    link_rows,
    person_change_rows,
    signal_rows,
    split_account,
    unwritable_reason,
)

T = datetime(2026, 11, 5, tzinfo=UTC)


def link(version: int, score: float = 1.0) -> IdentityLink:
    return IdentityLink(account="b1:p1", other="b2:p:9", operator_id="op", status="possible",
                        score=score, reasons={"device_id": 16.5}, version=version, decided_at=T)


def test_every_field_has_its_column() -> None:
    for model, cols in ((IdentityLink, LINK_COLUMNS), (PersonChange, PERSON_CHANGE_COLUMNS),
                        (MultiAccountSignal, SIGNAL_COLUMNS), (TouchpointLink, IDENTITY_TOUCHPOINT_COLUMNS)):
        assert set(model.model_fields) <= set(cols), model.__name__


def test_accounts_split_at_the_first_colon() -> None:
    assert split_account("b1:p:9") == ("b1", "p:9")
    assert split_account("click-7") == ("", "click-7")


def test_a_batch_writes_each_keys_highest_version_once() -> None:
    rows = link_rows([link(2, 5.0), link(1, 1.0), link(2, 5.0)])
    assert rows == [["b1", "p1", "b1:p1", "b2", "p:9", "b2:p:9", "op", "possible", 5.0,
                     {"device_id": 16.5}, 2, T]]
    change = PersonChange(change_id="c1", account="b1:p1", operator_id="op", kind="merge",
                          person_id="b2:p:9", previous_person_id="b1:p1", reason="email_hash",
                          version=1, changed_at=T)
    assert len(person_change_rows([change, change])) == 1
    sig = MultiAccountSignal(signal_id="s1", kind="multi_account", brand_id="b1",
                             accounts=["b1:p1", "b1:p2"], score=3.2, reasons={}, status="open",
                             version=1, raised_at=T)
    [row] = signal_rows([sig, sig.model_copy(update={"version": 3, "status": "withdrawn"})])
    assert row[SIGNAL_COLUMNS.index("player_ids")] == ["p1", "p2"]
    assert row[SIGNAL_COLUMNS.index("status")] == "withdrawn"
    touch = TouchpointLink(account="b1:p1", brand_id="b1", click_id="c1", affiliate_id="a",
                           campaign_id="c", clicked_at=T, link="device")
    named = touch.model_copy(update={"link": "named_click"})
    assert len(identity_touchpoint_rows([touch, touch, named])) == 2


def test_a_time_outside_clickhouses_range_is_unwritable() -> None:
    far = datetime(2200, 1, 1, tzinfo=UTC)
    assert "decided_at" in (unwritable_reason(link(1).model_copy(update={"decided_at": far})) or "")
