"""The erasure request's id and refusals, and the certificate's statement."""

from __future__ import annotations

import hashlib

import pytest

from clickpath.domain.erasure_request import (
    PersonalData,
    certificate_statement,
    erasure_event_id,
    erasure_request,
)
from tests.factories import T0


def test_an_idempotency_key_gives_the_same_id_per_account_and_none_a_fresh_one() -> None:
    same = erasure_event_id("b", "p1", "k")
    assert same == erasure_event_id("b", "p1", "k") == "er_" + hashlib.sha256(b"b|p1|k").hexdigest()[:32]
    assert erasure_event_id("b", "p2", "k") != same and erasure_event_id("c", "p1", "k") != same
    fresh = {erasure_event_id("b", "p1") for _ in range(3)}
    assert len(fresh) == 3 and all(i.startswith("er_") and len(i) == 35 for i in fresh)


@pytest.mark.parametrize(("field", "text"), [("requested_by", "ann@example.com"),
                                             ("reason", "from 203.0.113.7")])
def test_personal_data_in_the_request_is_refused_naming_the_field(field: str, text: str) -> None:
    given = {"requested_by": "DPO-1", "reason": None, field: text}
    with pytest.raises(PersonalData) as refused:
        erasure_request("b", "p1", now=T0, event_id="er_1", source="api", **given)
    assert refused.value.field == field


def test_the_request_carries_who_asked_and_why() -> None:
    event = erasure_request("b", "p1", requested_by="DPO-1", reason="Art. 17", now=T0,
                            event_id="er_1", source="api")
    assert (event.person_id, event.event_type, event.requested_by, event.attributes) == (
        "b:p1", "erasure_request", "DPO-1", {"reason": "Art. 17"})
    assert erasure_request("b", "p1", requested_by="k1", reason=None, now=T0, event_id="er_1",
                           source="api").attributes == {}


def test_the_statement_says_what_was_not_there_to_do() -> None:
    cert = {"brand_id": "b", "player_id": "p1", "completed_at": "2026-11-02T09:30:00Z",
            "key_existed": False, "key_destroyed_at": None, "identifiers_removed": 0,
            "links_removed": 0, "deliveries_revoked": False, "rows_anonymised": {}}
    assert certificate_statement(cert) == (
        "The personal data of player p1 at brand b was erased on 2026-11-02T09:30:00Z: it had no"
        " key of its own to destroy, 0 identifiers and 0 links removed from the identity graph,"
        " 0 rows anonymised in ClickHouse, no affiliate deliveries to revoke.")
