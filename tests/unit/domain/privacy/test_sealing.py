"""Sealed fields: they open only as the field and person they were sealed for, with the key they
were sealed under; anything damaged or forged is refused, never read as garbage."""

from __future__ import annotations

import pytest

from clickpath.domain.privacy import (
    SEALED_PREFIX,
    SealError,
    is_master_key,
    is_sealed,
    key_check_value,
    key_id_of,
    master_key_bytes,
    new_data_key,
    open_fields,
    seal,
    seal_fields,
    unseal,
    unwrap_key,
    wrap_key,
)

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
KID = "brand-a:player.42"  # any characters: the dot too
HASH = "a" * 64


def test_round_trip_and_shape() -> None:
    value = seal(KEY, KID, "email_hash", HASH)
    assert value.startswith(SEALED_PREFIX) and HASH not in value
    assert is_sealed(value) and key_id_of(value) == KID
    assert unseal(KEY, "email_hash", value) == HASH


def test_text_of_any_kind_round_trips() -> None:
    for text in ["", "Mozilla/5.0 (X11; Linux x86_64) " * 16, "sub:é✓\x00.cp1.", "cp1.x.y"]:
        assert unseal(KEY, "sub1", seal(KEY, "b:p", "sub1", text)) == text


def test_sealed_values_stay_short() -> None:
    hashed = seal(KEY, "brand-a:player-0123456789", "email_hash", HASH)
    agent = seal(KEY, "brand-a:player-0123456789", "user_agent", "u" * 512)
    assert len(hashed) < 170
    assert len(agent) < 760


def test_fresh_nonce_each_seal_and_fixed_one_for_tests() -> None:
    assert seal(KEY, KID, "f", "x") != seal(KEY, KID, "f", "x")
    nonce = b"\x01" * 12
    assert seal(KEY, KID, "f", "x", nonce=nonce) == seal(KEY, KID, "f", "x", nonce=nonce)


def test_moved_to_another_field_or_person_does_not_open() -> None:
    value = seal(KEY, KID, "email_hash", HASH)
    with pytest.raises(SealError):
        unseal(KEY, "phone_hash", value)
    # the same ciphertext relabelled with another person's key id
    body = value.rsplit(".", 1)[1]
    moved = seal(KEY, "brand-a:player-43", "email_hash", HASH).rsplit(".", 1)[0] + "." + body
    assert key_id_of(moved) == "brand-a:player-43"
    with pytest.raises(SealError):
        unseal(KEY, "email_hash", moved)


def test_wrong_key_and_damage_are_refused() -> None:
    value = seal(KEY, KID, "f", HASH)
    with pytest.raises(SealError):
        unseal(OTHER, "f", value)
    flipped = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    for damaged in [flipped, value[:-4], value + "x", value.replace(".", "!", 1), "cp1.", "cp1.a.b.c", HASH]:
        with pytest.raises(SealError):
            unseal(KEY, "f", damaged)


def test_is_sealed_and_key_id_of_on_other_values() -> None:
    for value in [None, 3, "", HASH, "cp1.", "cp1.!!.AAAA", "cp1.YQ.AAAA"]:
        assert not is_sealed(value)
    assert key_id_of(HASH) is None


def test_keys_of_the_wrong_size_are_refused() -> None:
    with pytest.raises(SealError):
        seal(b"short", KID, "f", "x")
    assert len(new_data_key()) == 32 and new_data_key() != new_data_key()


def test_seal_fields_seals_only_present_nonempty_strings() -> None:
    record = {"email_hash": HASH, "phone_hash": None, "sub1": "", "sub2": "s2", "amount": 5, "brand_id": "b"}
    sealed = seal_fields(KEY, KID, record, ["email_hash", "phone_hash", "sub1", "sub2", "amount", "missing"])
    assert is_sealed(sealed["email_hash"]) and is_sealed(sealed["sub2"])
    assert sealed["phone_hash"] is None and sealed["sub1"] == "" and sealed["amount"] == 5
    assert sealed["brand_id"] == "b" and "missing" not in sealed
    assert record["email_hash"] == HASH  # the input is not changed
    assert seal_fields(KEY, KID, sealed, ["email_hash", "sub2"]) == sealed  # sealing twice is a no-op


def test_seal_fields_reseals_a_value_that_only_looks_sealed() -> None:
    forged = seal(OTHER, KID, "sub1", "attacker")  # right key id, not this person's key
    foreign = seal(OTHER, "brand-a:someone-else", "sub1", "x")
    sealed = seal_fields(KEY, KID, {"sub1": forged, "sub2": foreign}, ["sub1", "sub2"])
    assert unseal(KEY, "sub1", sealed["sub1"]) == forged
    assert unseal(KEY, "sub2", sealed["sub2"]) == foreign


def test_open_fields_opens_and_an_erased_key_gives_none() -> None:
    keys: dict[str, bytes | None] = {KID: KEY, "b:gone": None}
    record = {
        "email_hash": seal(KEY, KID, "email_hash", HASH),
        "sub1": seal(OTHER, "b:gone", "sub1", "s"),
        "sub2": "plain",
        "other": seal(KEY, KID, "other", "not named"),
    }
    opened = open_fields(keys.get, record, ["email_hash", "sub1", "sub2", "absent"])
    assert opened["email_hash"] == HASH and opened["sub1"] is None and opened["sub2"] == "plain"
    assert opened["other"] == record["other"]


def test_open_fields_refuses_a_damaged_value() -> None:
    record = {"sub1": seal(OTHER, KID, "sub1", "s")}  # names KID but was not sealed with its key
    with pytest.raises(SealError):
        open_fields({KID: KEY}.get, record, ["sub1"])


def test_wrap_round_trip_and_binding() -> None:
    master = master_key_bytes("a long secret of the operator's own, 32+ bytes")
    data_key = new_data_key()
    wrapped = wrap_key(master, KID, data_key)
    assert len(wrapped) == 60 and data_key not in wrapped
    assert unwrap_key(master, KID, wrapped) == data_key
    with pytest.raises(SealError):
        unwrap_key(master, "brand-a:player-43", wrapped)
    with pytest.raises(SealError):
        unwrap_key(master_key_bytes("another secret entirely, also 32+ bytes"), KID, wrapped)
    with pytest.raises(SealError):
        unwrap_key(master, KID, wrapped[:-1] + bytes([wrapped[-1] ^ 1]))


def test_master_key_derivation_and_check_value() -> None:
    master = master_key_bytes("secret")
    assert len(master) == 32 and master == master_key_bytes(" secret\n") != master_key_bytes("secret2")
    check = key_check_value(master)
    assert master not in check and is_master_key(master, check)
    assert not is_master_key(master_key_bytes("secret2"), check)
