"""parse_event applies the mapping of the event's source before validating it, and the shipped
example mappings turn their sample exports into valid events (no rejection)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from clickpath.connectors.importer.files import detect_format, read_records
from clickpath.connectors.ingress import Rejection, parse_event
from clickpath.contracts.models import Chargeback, Deposit, Registration, Wager
from clickpath.domain.mappings import parse_mappings
from clickpath.domain.pseudonym import keyed_hash
from clickpath.settings import Settings

KEY = b"k" * 32
T = "2026-01-05T10:00:00Z"
EXAMPLES = Path(__file__).resolve().parents[3] / "deploy" / "mappings"
MAPPINGS = parse_mappings({
    "casino": {"rename": {"user": "player_id", "round_id": "wager_id", "category": "game_category"},
               "values": {"game_category": {"slots": "casino"}}, "defaults": {"bonus_stake": "0"},
               "unknown": "keep"},
    "strict": {"rename": {"user": "player_id"}, "constants": {"brand_id": "other"}},
})


def parse(data: dict, source: str = "api", **kw) -> object:
    return parse_event(data, pseudonym_key=KEY, source=source, mappings=MAPPINGS, **kw)


def wager(**fields) -> dict:
    return {"event_type": "wager", "event_id": "w-1", "occurred_at": T, "brand_id": "b", "user": "p-1",
            "round_id": "R-1", "stake": "1", "win": "0", "currency": "EUR", "category": "slots", **fields}


def test_the_doors_source_picks_the_mapping() -> None:
    event = parse(wager(device_fingerprint="fp"), source="casino")
    assert isinstance(event, Wager)
    assert (event.player_id, event.wager_id, event.game_category) == ("p-1", "R-1", "casino")
    assert event.bonus_stake == Decimal(0) and event.source == "casino"
    assert event.attributes == {"device_fingerprint": "fp"}


def test_the_events_own_source_picks_the_mapping() -> None:
    assert isinstance(parse(wager(source="casino")), Wager)


def test_a_source_without_a_mapping_is_validated_as_sent() -> None:
    with pytest.raises(Rejection) as e:
        parse(wager(player_id="p-1", wager_id="R-1", game_category="casino", bonus_stake="0"))
    assert e.value.field == "user" and e.value.reason == "unknown field for a wager event"


def test_a_mapping_rejection_names_the_field() -> None:
    with pytest.raises(Rejection) as e:
        parse(wager(), source="strict")
    assert e.value.field == "round_id" and "'strict'" in e.value.reason


def test_the_api_keys_brand_is_checked_after_the_mapping() -> None:
    with pytest.raises(Rejection) as e:
        parse({"event_type": "kyc", "event_id": "k", "occurred_at": T, "user": "p", "status": "verified"},
              source="strict", brand_id="mine")
    assert e.value.field == "brand_id"


def test_raw_identifiers_a_mapping_renames_are_pseudonymised() -> None:
    mappings = parse_mappings({"crm": {"rename": {"Email": "email"}}})
    event = parse_event({"event_type": "registration", "event_id": "r", "occurred_at": T, "brand_id": "b",
                         "player_id": "p", "Email": "Ann@Example.com"},
                        pseudonym_key=KEY, source="crm", mappings=mappings)
    assert isinstance(event, Registration)
    assert event.email_hash == keyed_hash(KEY, "email", "ann@example.com")


@pytest.mark.parametrize(("sample", "source", "count"), [
    ("acme-crm.sample.csv", "acme-crm", 7),
    ("reelhouse-feed.sample.jsonl", "reelhouse-feed", 9),
])
def test_each_example_mapping_turns_its_sample_into_valid_events(sample: str, source: str,
                                                                 count: int) -> None:
    mappings = Settings(mappings_file=EXAMPLES).source_mappings
    path = EXAMPLES / sample
    with path.open("rb") as f:
        records = [r for r in read_records(f, detect_format(path)) if not r.blank]
    events = [parse_event(r.data, pseudonym_key=KEY, brand_id="acme", source=source, mappings=mappings)
              for r in records]
    assert len(events) == count == len({e.event_id for e in events})
    assert all(e.source == source for e in events)
    if source == "acme-crm":
        deposit = next(e for e in events if isinstance(e, Deposit))
        assert deposit.method == "card" and deposit.status == "approved"
        assert deposit.event_id == "acme-crm:deposit:T5001:approved"
        assert all("AgentNote" not in e.attributes for e in events)
    else:
        wagers = [e for e in events if isinstance(e, Wager)]
        assert [(w.game_category, w.bonus_stake) for w in wagers] == [
            ("casino", Decimal(0)), ("live_casino", Decimal("1.00"))]
    (chargeback,) = [e for e in events if isinstance(e, Chargeback)]
    assert chargeback.chargeback_id == f"cb-{chargeback.transaction_id}"
