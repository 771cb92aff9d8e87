"""The unmerge record both doors make: keyed by the account, for identity.inbox, as the admin
node; a bad value refused naming the field before anything is made."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clickpath.contracts.models.identity import UnmergeRequest
from clickpath.contracts.topics import Node, Topic, TopologyError, check_emit
from clickpath.domain.identity.unmerge import UnmergeRefused, unmerge_request

NOW = datetime(2026, 12, 7, 23, 40, tzinfo=UTC)


def make(brand: str = "brand-b", player: str = "q1", reason: str = "support ticket 12",
         by: str = "key-1") -> UnmergeRequest:
    out = unmerge_request(brand, player, reason, requested_by=by, request_id="u-1", now=NOW)
    assert (out.topic, out.key) == (Topic.IDENTITY_INBOX, "brand-b:q1")
    assert isinstance(out.record, UnmergeRequest)
    return out.record


def test_the_record_names_the_account_who_asked_why_and_when() -> None:
    record = make(reason="  support ticket 12 ")
    assert record == UnmergeRequest(account="brand-b:q1", request_id="u-1", requested_by="key-1",
                                    reason="support ticket 12", requested_at=NOW)


def test_only_the_admin_node_and_the_account_stage_may_write_it() -> None:
    record = make()
    check_emit(Node.IDENTITY_ADMIN, Topic.IDENTITY_INBOX, record)
    with pytest.raises(TopologyError):
        check_emit(Node.API, Topic.IDENTITY_INBOX, record)


@pytest.mark.parametrize(("field", "kwargs", "says"), [
    ("reason", {"reason": "   "}, "required"),
    ("reason", {"reason": "x" * 201}, "at most 200"),
    ("reason", {"reason": "line one\nline two"}, "control characters"),
    ("reason", {"reason": "asked by ann@example.com"}, "e-mail address"),
    ("reason", {"reason": "call +44 20 7946 0958"}, "phone number"),
    ("reason", {"reason": "from 198.51.100.23"}, "IP address"),
    ("player_id", {"player": "ann@example.com"}, "e-mail address"),
    ("player_id", {"player": ""}, "required"),
    ("player_id", {"player": "p" * 129}, "at most 128"),
    ("brand_id", {"brand": "brand:b"}, "':'"),
    ("requested_by", {"by": ""}, "1 to 200"),
])
def test_a_bad_value_is_refused_naming_the_field(field: str, kwargs: dict[str, str], says: str) -> None:
    with pytest.raises(UnmergeRefused) as refused:
        make(**kwargs)
    assert refused.value.field == field
    assert says in refused.value.reason
