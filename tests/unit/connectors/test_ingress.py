"""The shared JSON-to-event validation every door uses, and the postback-in mapping."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clickpath.connectors.ingress import Rejection, parse_event
from clickpath.connectors.postback_in import event_from_postback
from clickpath.contracts.models import Chargeback, Deposit, Registration

KEY = b"k"


def parse(data, **kw):
    return parse_event(data, pseudonym_key=KEY, source=kw.pop("source", "api"), **kw)


def test_the_key_brand_fills_the_event_and_must_match_it() -> None:
    data = {"event_type": "kyc", "event_id": "e1", "occurred_at": "2026-11-25T10:00:00Z",
            "player_id": "p1", "status": "verified"}
    assert parse(data, brand_id="b1").brand_id == "b1"
    with pytest.raises(Rejection) as e:
        parse({**data, "brand_id": "b2"}, brand_id="b1")
    assert e.value.field == "brand_id"


@pytest.mark.parametrize(("change", "field"), [
    ({"event_type": "spin"}, "event_type"),
    ({"amount": "1.23456"}, "amount"),            # more than 4 decimals
    ({"occurred_at": "2026-11-25T10:00:00"}, "occurred_at"),  # no zone
    ({"ip": "1.2.3.4"}, "ip"),                    # a deposit takes no IP
    ({"currency": None}, "currency"),
])
def test_rejections_name_the_field(change, field) -> None:
    data = {"event_type": "deposit", "event_id": "e1", "occurred_at": "2026-11-25T10:00:00Z",
            "brand_id": "b", "player_id": "p1", "transaction_id": "t1", "amount": "10",
            "currency": "EUR", **change}
    with pytest.raises(Rejection) as e:
        parse(data)
    assert e.value.field == field and e.value.reason


def test_not_an_object_is_rejected_as_a_whole() -> None:
    with pytest.raises(Rejection) as e:
        parse(["deposit"])
    assert e.value.field == ""


def test_a_postback_fired_twice_gives_the_same_event_id() -> None:
    params = {"player_id": "p1", "transaction_id": "t9", "amount": "5", "currency": "EUR"}
    first = event_from_postback("ftd", params, pseudonym_key=KEY, brand_id="b")
    again = event_from_postback("ftd", params, pseudonym_key=KEY, brand_id="b")
    assert isinstance(first, Deposit) and first.event_id == again.event_id == "pb-deposit-t9"
    assert first.amount == Decimal("5") and first.source == "postback"


def test_postback_mapping_of_registration_and_chargeback() -> None:
    reg = event_from_postback("registration", {"player_id": "p1", "click_id": "c1",
                                               "timestamp": "1764064800"},
                              pseudonym_key=KEY, brand_id="b")
    assert isinstance(reg, Registration) and reg.click_id == "c1"
    assert reg.occurred_at.isoformat() == "2025-11-25T10:00:00+00:00"
    cb = event_from_postback("chargeback", {"player_id": "p1", "transaction_id": "t1",
                                            "amount": "5", "currency": "EUR"},
                             pseudonym_key=KEY, brand_id="b")
    assert isinstance(cb, Chargeback) and cb.chargeback_id == "cb-t1"


def test_registrations_and_logins_take_the_operators_customer_id() -> None:
    """customer_id (v3) is an id like player_id: accepted by the event API and postback-in,
    refused when it holds personal data."""
    data = {"event_type": "login", "event_id": "e1", "occurred_at": "2026-11-25T10:00:00Z",
            "brand_id": "b", "player_id": "p1", "customer_id": "cust-42"}
    assert parse(data).customer_id == "cust-42"
    reg = event_from_postback("registration", {"player_id": "p1", "customer_id": "cust-42"},
                              pseudonym_key=KEY, brand_id="b")
    assert isinstance(reg, Registration) and reg.customer_id == "cust-42"
    for value in ("ann@example.com", ""):
        with pytest.raises(Rejection) as e:
            parse({**data, "customer_id": value})
        assert e.value.field == "customer_id"
    with pytest.raises(Rejection) as e:
        parse({**data, "event_type": "deposit", "transaction_id": "t1", "amount": "1",
               "currency": "EUR"})
    assert e.value.field == "customer_id"  # a deposit has none


def test_a_postback_without_what_identifies_it_is_refused() -> None:
    with pytest.raises(Rejection) as e:
        event_from_postback("deposit", {"player_id": "p1", "amount": "5", "currency": "EUR"},
                            pseudonym_key=KEY, brand_id="b")
    assert e.value.field == "transaction_id"


# --- the event-time window (issue 13, High 2) ------------------------------------------------


@pytest.mark.parametrize("occurred_at", ["2200-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
                                         "1970-01-01T00:00:00Z"])
def test_every_door_rejects_event_times_outside_the_window(occurred_at) -> None:
    data = {"event_type": "kyc", "event_id": "e1", "occurred_at": occurred_at, "brand_id": "b",
            "player_id": "p1", "status": "verified"}
    with pytest.raises(Rejection) as e:
        parse(data)
    assert e.value.field == "occurred_at"


def test_the_window_is_configurable() -> None:
    from datetime import UTC, datetime, timedelta

    from clickpath.contracts.event_time import EventTimeWindow
    from clickpath.settings import Settings

    data = {"event_type": "kyc", "event_id": "e1", "occurred_at": "1995-06-01T00:00:00Z",
            "brand_id": "b", "player_id": "p1", "status": "verified"}
    window = Settings(event_time_earliest=datetime(1990, 1, 1, tzinfo=UTC)).event_time_window
    assert parse(data, window=window).occurred_at.year == 1995
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    with pytest.raises(Rejection) as e:
        parse({**data, "occurred_at": soon}, window=EventTimeWindow(max_ahead=timedelta(hours=1)))
    assert e.value.field == "occurred_at"


@pytest.mark.parametrize("timestamp", ["7258118400", "1e300", "-1e300"])
def test_a_postback_dated_in_the_year_2200_is_rejected_naming_occurred_at(timestamp) -> None:
    params = {"player_id": "p1", "transaction_id": "t9", "amount": "5", "currency": "EUR",
              "timestamp": timestamp}
    with pytest.raises(Rejection) as e:
        event_from_postback("ftd", params, pseudonym_key=KEY, brand_id="b")
    assert e.value.field == "occurred_at"


def test_the_importer_rejects_out_of_window_times(tmp_path) -> None:
    from clickpath.connectors.importer.files import SourceRecord
    from clickpath.connectors.importer.options import ImportOptions
    from clickpath.connectors.importer.records import Validator
    from clickpath.settings import Settings

    options = ImportOptions(path=tmp_path / "x.jsonl", format="jsonl")
    validator = Validator(Settings(data_dir=tmp_path), options)
    record = SourceRecord(line=1, end=1, data={"event_type": "kyc", "event_id": "e1", "brand_id": "b",
                                        "occurred_at": "2200-01-01T00:00:00Z", "player_id": "p1",
                                        "status": "verified"})
    with pytest.raises(Rejection) as e:
        validator.event(record)
    assert e.value.field == "occurred_at"


@pytest.mark.parametrize(("attributes", "field"), [
    ({"email_hash": "raw.person@example.com"}, "attributes.email_hash"),
    ({"ip_prefix": "198.51.100.23"}, "attributes.ip_prefix"),
    ({"origin": "198.51.100.23:443"}, "attributes.origin"),
])
def test_a_raw_address_in_the_attributes_is_refused_whatever_its_name(attributes, field) -> None:
    """Review 21 item 4: a pseudonym field's name nested in `attributes` (no validator there),
    or an address with a port, passed the personal data check."""
    data = {"event_type": "deposit", "event_id": "e1", "occurred_at": "2026-11-25T10:00:00Z",
            "brand_id": "b", "player_id": "p1", "transaction_id": "t1", "amount": "10",
            "currency": "EUR", "attributes": attributes}
    with pytest.raises(Rejection) as e:
        parse(data)
    assert e.value.field == field and "personal data" in e.value.reason
