"""The export finds a player's deliveries by the ids the delivery engine gives them, and gives
each event's payload as stored."""

from __future__ import annotations

from clickpath.contracts.models import CanonicalEvent, Postback
from clickpath.contracts.serde import build_codec
from clickpath.domain.endpoints import Endpoint
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.outputs import canonical_of
from clickpath.domain.players import PlayerPolicy, decide_player
from clickpath.domain.subject_export import delivery_ids, event_view, export_payload
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.settings import Settings
from clickpath.sinks.delivery.intake import jobs_for
from tests.factories import at, deposit, registration
from tests.unit.domain.test_consent import attribution

ENDPOINTS = [
    Endpoint(endpoint_id="ep-1", affiliate_id="aff-1", url="http://93.184.216.34/pb",
             events=["registration", "ftd", "deposit"]),
    Endpoint(endpoint_id="ep-other", affiliate_id="aff-2", url="http://93.184.216.34/pb",
             events=["registration", "ftd", "deposit"]),
    Endpoint(endpoint_id="wh-ops", kind="webhook", method="POST", url="http://93.184.216.34/wh",
             events=["registration", "ftd"]),
]


def test_every_job_the_engine_makes_about_the_player_is_found(tmp_path) -> None:
    policy = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
    state, records, ledger = None, [], MemoryLedger()
    for record in [registration("p1", "c1"), attribution(), deposit("p1", "t1", "20.00", 6),
                   deposit("p1", "t2", "5.00", 8)]:
        state, outputs, _ = decide_player(state, record, policy, at(100), ledger=ledger)
        records += [o.record for o in outputs if isinstance(o.record, Postback | CanonicalEvent)]
    codec = build_codec(Settings().schemas_dir, None)
    store = EndpointStore(tmp_path / "endpoints.json", ENDPOINTS)
    jobs = [j for r in records for j in jobs_for(r, codec.encode(r), store, at(100))]
    assert {j.event for j in jobs} == {"registration", "ftd", "deposit"}
    assert {j.endpoint_id for j in jobs} == {"ep-1", "wh-ops"}
    events = [{"event_id": e.event_id, "event_type": e.event_type, "is_ftd": e.is_ftd,
               "transaction_id": e.transaction_id} for e in records if isinstance(e, CanonicalEvent)]
    endpoints = [{"endpoint_id": e.endpoint_id, "kind": e.kind, "affiliate_id": e.affiliate_id or ""}
                 for e in ENDPOINTS]
    found = set(delivery_ids("brand-a:p1", {"aff-1"}, events, endpoints))
    assert {j.job_id for j in jobs} <= found
    # another player's, on the same endpoints, are not
    assert not {j.job_id for j in jobs} & set(delivery_ids("brand-a:p2", {"aff-1"}, events[:0],
                                                           endpoints))


def test_a_payload_is_given_as_stored() -> None:
    event = canonical_of(deposit("p1", "t1", "20.00"), "brand-a:p1", at(100))
    row = {**event.model_dump(), "received_at": None}
    view = event_view(row)
    assert (view["amount"], view["currency"]) == ("20.00", "EUR")
    assert view["payload"] == {"attributes": {}, "method": None, "status": None}
    assert export_payload("not json") == "not json"
