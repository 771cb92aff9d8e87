from __future__ import annotations

import os
import struct
from decimal import Decimal

import pytest

from clickpath.contracts.models import BatchItem, DeadLetter, Deposit, EventBatch
from clickpath.contracts.serde import Codec, DecodeError, EmbeddedRegistry, build_codec, load_schema_files
from clickpath.settings import Settings
from tests.factories import at, click, deposit, registration

CODEC = build_codec(Settings().schemas_dir, None)


@pytest.mark.parametrize("record", [
    click("c1", sub1="a b&c"), registration("p1", "c1"), deposit("p1", "t1", "12.3456"),
    DeadLetter(original_key=None, original_value=b"\x00\xff", topic="t", partition=1, offset=2,
               stage="s", reason="r", failed_at=at(0)),
], ids=lambda r: type(r).__name__)
def test_round_trip_in_confluent_wire_format(record) -> None:
    data = CODEC.encode(record)
    assert data[0] == 0 and len(data) > 5
    assert CODEC.decode(data) == record


def test_ids_are_the_same_in_every_process() -> None:
    files = load_schema_files(Settings().schemas_dir)
    a, b = EmbeddedRegistry(files), EmbeddedRegistry(files)
    assert a.writer_id(Deposit.avro_name) == b.writer_id(Deposit.avro_name)
    data = CODEC.encode(deposit("p1", "t1", "1"))
    assert struct.unpack(">I", data[1:5])[0] == a.writer_id(Deposit.avro_name)
    assert isinstance(Codec(b, files).decode(data), Deposit)


def _with_amount(amount: str, currency: str = "EUR") -> bytes:
    # Encode past the model's validation, as a foreign producer could.
    d = deposit("p1", "t1", "1").model_dump()
    d.update(amount=Decimal(amount), currency=currency)
    return CODEC.encode(Deposit.model_construct(**d))


@pytest.mark.parametrize("data, reason", [
    (b"", "empty or truncated"),
    (os.urandom(3), "empty or truncated"),
    (b"\x07" + os.urandom(40), "magic byte 7"),
    (b"\x00\x00\x00\x00\x01" + b"abc", "unknown schema id 1"),
    (CODEC.encode(deposit("p1", "t1", "10"))[:-3], "undecodable"),
    (CODEC.encode(deposit("p1", "t1", "10")) + b"xx", "trailing bytes"),
    (_with_amount("-5"), "amount: Input should be greater than or equal to 0"),
    (_with_amount("10", "ZZZ"), "unknown currency 'ZZZ'"),
    (_with_amount("99999999999999"), "amount: Input should be less than or equal to"),
], ids=lambda v: v if isinstance(v, str) else "bytes")  # the same ids in every xdist worker
def test_bad_records_become_decode_errors_with_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason.replace("(", r"\(")):
        CODEC.decode(data)


def test_huge_strings_are_rejected() -> None:
    reg = registration("p1", None).model_dump()
    reg["player_id"] = "x" * 10_000
    from clickpath.contracts.models import Registration

    data = CODEC.encode(Registration.model_construct(**reg))
    with pytest.raises(DecodeError, match="player_id: String should have at most 128"):
        CODEC.decode(data)


def test_an_event_batch_carries_whole_single_records() -> None:
    events = [click("c-1"), registration("p-1", click_id="c-1"), deposit("p-1", "t-1", "10")]
    items = [BatchItem(key=str(i), value=CODEC.encode(e)) for i, e in enumerate(events)]
    batch = CODEC.decode(CODEC.encode(EventBatch(items=items)))
    assert isinstance(batch, EventBatch)
    assert [CODEC.decode(item.value) for item in batch.items] == events
    assert [item.key for item in batch.items] == ["0", "1", "2"]


def test_a_dead_letter_written_before_batch_index_existed_still_decodes() -> None:
    files = load_schema_files(Settings().schemas_dir)
    v1 = next(f for f in files if f.name == DeadLetter.avro_name and f.version == 1)
    old = EmbeddedRegistry([v1])
    letter = DeadLetter.of(
        key=b"k", value=b"v", topic="t", partition=0, offset=7, stage="s", reason="r",
        at=at(0),
    )
    data = Codec(old, [v1]).encode(letter)
    assert Codec(EmbeddedRegistry(files), files).decode(data) == letter


def test_a_fact_written_before_the_money_fields_reads_them_as_zero() -> None:
    from datetime import date

    from clickpath.contracts.models import PlayerDayFact

    files = load_schema_files(Settings().schemas_dir)
    v1 = next(f for f in files if f.name == PlayerDayFact.avro_name and f.version == 1)
    fact = PlayerDayFact(
        person_id="b:p", brand_id="b", day=date(2026, 1, 1), currency="EUR", affiliate_id="a",
        campaign_id="c", registrations=0, ftds=1, deposits=1, deposit_sum=Decimal("5"), version=3,
    )
    old = Codec(EmbeddedRegistry([v1]), [v1]).encode(fact)
    read = Codec(EmbeddedRegistry(files), files).decode(old)
    assert read == fact and read.chargeback_sum == Decimal(0) and read.withdrawals == 0


def test_a_fact_written_before_the_registration_time_reads_it_as_none() -> None:
    from datetime import UTC, date, datetime

    from clickpath.contracts.models import PlayerDayFact

    files = load_schema_files(Settings().schemas_dir)
    v2 = next(f for f in files if f.name == PlayerDayFact.avro_name and f.version == 2)
    fact = PlayerDayFact(
        person_id="b:p", brand_id="b", day=date(2026, 1, 1), currency="EUR", affiliate_id="a",
        campaign_id="c", registrations=0, ftds=1, deposits=1, deposit_sum=Decimal("5"), version=3,
        stakes=Decimal("7"),
    )
    read = Codec(EmbeddedRegistry(files), files).decode(Codec(EmbeddedRegistry([v2]), [v2]).encode(fact))
    assert read == fact and read.registered_at is None
    dated = fact.model_copy(update={"registered_at": datetime(2025, 12, 31, 23, 59, tzinfo=UTC)})
    codec = Codec(EmbeddedRegistry(files), files)
    assert codec.decode(codec.encode(dated)) == dated


def _written_with(version: int, record):
    """`record` as a producer with only `version` of its schema wrote it, read by this one."""
    files = load_schema_files(Settings().schemas_dir)
    old = next(f for f in files if f.name == record.avro_name and f.version == version)
    return Codec(EmbeddedRegistry(files), files).decode(Codec(EmbeddedRegistry([old]), [old]).encode(record))


def test_records_written_before_the_qualified_cpa_fields_read_them_as_none() -> None:
    """Postback v4 (payout), PlayerProfile v2 and PlayerQualification v2 (click, sub ids, the
    postback verdict) read what their earlier versions wrote."""
    from datetime import UTC, datetime

    from clickpath.contracts.models import PlayerProfile, PlayerQualification, Postback

    now = datetime(2026, 11, 1, tzinfo=UTC)
    postback = Postback(postback_id="pb", affiliate_id="a", campaign_id="c", brand_id="b",
                        event="ftd", click_id="c1", amount=Decimal("10"), currency="EUR",
                        player_token="tok", occurred_at=now, received_at=now)
    profile = PlayerProfile(person_id="b:p", brand_id="b", player_id="p", deposits=0,
                            declined_deposits=0, withdrawals=0, chargebacks=0, money=[], sessions=0,
                            consents={}, rg_active=[], tag_status="attributed", affiliate_id="a",
                            campaign_id="c", churn_risk=0.0, updated_at=now, version=1)
    qualification = PlayerQualification(affiliate_id="a", person_id="b:p", brand_id="b", version=1,
                                        status="qualified", qualified_at=now, caused_by=["e"],
                                        occurred_at=now)
    read = _written_with(3, postback)
    assert read == postback and (read.payout, read.payout_currency) == (None, None)
    read_profile = _written_with(1, profile)
    assert read_profile == profile and read_profile.click_id is None and read_profile.postback_block is None
    assert _written_with(1, qualification) == qualification


def test_a_qualified_cpa_travels_with_its_payout_at_the_ledgers_scale() -> None:
    from datetime import UTC, datetime

    from clickpath.contracts.models import Postback

    cpa = Postback(postback_id="pb", affiliate_id="a", campaign_id="c", brand_id="b",
                   event="qualified_cpa", click_id="c1", currency="BTC", player_token="tok",
                   occurred_at=datetime(2026, 11, 1, tzinfo=UTC), payout=Decimal("0.000123"),
                   payout_currency="BTC")
    assert CODEC.decode(CODEC.encode(cpa)) == cpa


def test_registrations_and_logins_before_customer_id_read_it_as_none() -> None:
    """Registration and Login v3 (customer_id, the operator's own cross-brand id) read what v2
    wrote, and carry the id when it is sent."""
    from clickpath.contracts.models import Login

    login = Login(event_id="ev-login", occurred_at=at(3), brand_id="brand-a", source="crm",
                  player_id="p1", device_id="d1")
    for record in (registration("p1", "c1"), login):
        read = _written_with(2, record)
        assert read == record and read.customer_id is None
        with_id = record.model_copy(update={"customer_id": "cust-42"})
        assert CODEC.decode(CODEC.encode(with_id)).customer_id == "cust-42"


def test_registrations_before_key_rotation_read_no_previous_pseudonyms() -> None:
    """Registration v4 (the previous key version's e-mail and phone pseudonyms, for a key
    rotation's grace period) reads what v3 wrote, and carries versioned pseudonyms as sent."""
    record = registration("p1", "c1").model_copy(update={"email_hash": "a" * 64})
    read = _written_with(3, record)
    assert read == record and (read.previous_email_hash, read.previous_phone_hash) == (None, None)
    rotated = record.model_copy(update={"email_hash": "v2." + "b" * 64, "previous_email_hash": "a" * 64})
    assert CODEC.decode(CODEC.encode(rotated)) == rotated
