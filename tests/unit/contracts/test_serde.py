from __future__ import annotations

import os
import struct
from decimal import Decimal

import pytest

from clickpath.contracts.models import DeadLetter, Deposit
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
])
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
