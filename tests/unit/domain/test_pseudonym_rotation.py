"""Versioned pseudonyms and the keyring: version 1 is what pseudonyms always were, later
versions are marked, and the keyring picks the key by time (docs/privacy.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from clickpath.contracts.models import Pseudonym
from clickpath.domain.pseudonym import (
    Keyring,
    PseudonymKey,
    keyed_hash,
    player_token,
    pseudonymise_ip,
    version_of,
)

KEY = b"k" * 32
# Computed with the code before rotation existed (plain HMAC-SHA256 of "kind|value"): the
# pseudonyms on the topics, in ClickHouse and in the golden fixtures must keep these bytes.
ANN_V1 = "01efb9e37e774bbeeaab2b083903b8be08f23e59123319fb1491a621037b806e"
TOKEN_V1 = "f6ce5cce24f9652020dff10f29746b68"
IP_V1 = "8673078e66df108b81efbdb47324aa3053c8f7d2581b3b47612c75c3201dd3a7"
START = datetime(2026, 12, 1, tzinfo=UTC)
RING = Keyring(current=PseudonymKey(3, b"n" * 32),
               previous=(PseudonymKey(1, KEY), PseudonymKey(2, b"m" * 32)),
               started_at=START, grace=timedelta(days=7))


def test_version_one_is_byte_for_byte_what_pseudonyms_and_tokens_were() -> None:
    assert keyed_hash(KEY, "email", "ann@example.com") == ANN_V1
    assert keyed_hash(KEY, "email", "ann@example.com", version=1) == ANN_V1
    assert pseudonymise_ip(KEY, "198.51.100.7") == (IP_V1, "198.51.0.0/16")
    assert player_token(KEY, "aff-1", "brand-a:p1") == TOKEN_V1
    assert Keyring.single(KEY).hashes("email", "ann@example.com", START) == (ANN_V1, None)
    assert version_of(ANN_V1) == version_of(TOKEN_V1) == 1


def test_a_later_version_carries_its_marker_before_the_same_kind_of_digest() -> None:
    v2 = keyed_hash(b"m" * 32, "email", "ann@example.com", version=2)
    assert v2.startswith("v2.") and len(v2) == 3 + 64 and version_of(v2) == 2
    assert keyed_hash(KEY, "email", "ann@example.com", version=12) == f"v12.{ANN_V1}"
    assert player_token(KEY, "aff-1", "brand-a:p1", version=2) == f"v2.{TOKEN_V1}"
    assert pseudonymise_ip(KEY, "198.51.100.7", version=2)[0] == f"v2.{IP_V1}"
    with pytest.raises(ValueError):
        keyed_hash(KEY, "email", "x", version=0)


def test_the_keyring_applies_a_new_key_from_its_start_and_the_previous_one_in_its_grace() -> None:
    before, start, grace_end = START - timedelta(seconds=1), START, START + timedelta(days=7)
    assert RING.applying(before).version == 2 and RING.graced(before) is None
    assert RING.applying(start).version == 3 and RING.graced(start) == RING.previous[-1]
    last = grace_end - timedelta(microseconds=1)
    assert RING.graced(last) is not None and RING.graced(grace_end) is None
    assert RING.applying(grace_end).version == 3
    current, previous = RING.hashes("phone", "+4420", start + timedelta(days=1))
    assert version_of(current) == 3 and previous == keyed_hash(b"m" * 32, "phone", "+4420", 2)
    assert RING.hashes("phone", "+4420", grace_end)[1] is None
    assert RING.ip("198.51.100.7", before)[0].startswith("v2.")


def test_a_keyring_refuses_versions_that_do_not_increase_and_hides_its_secrets() -> None:
    with pytest.raises(ValueError, match="versions"):
        Keyring(current=PseudonymKey(2, b"a"), previous=(PseudonymKey(2, b"b"),))
    with pytest.raises(ValueError, match="versions"):
        Keyring(current=PseudonymKey(1, b"a"), previous=(PseudonymKey(2, b"b"),))
    assert "nnnn" not in repr(RING) and "kkkk" not in repr(RING)


PSEUDONYM = TypeAdapter(Pseudonym)


@pytest.mark.parametrize("value", [ANN_V1, f"v2.{ANN_V1}", f"v10.{ANN_V1}", ANN_V1.upper(),
                                   f"V2.{ANN_V1}".lower()])
def test_the_pseudonym_fields_take_every_version(value: str) -> None:
    assert PSEUDONYM.validate_python(value) == value.lower()


@pytest.mark.parametrize("value", [f"v1.{ANN_V1}", f"v0.{ANN_V1}", f"v02.{ANN_V1}", f"v2{ANN_V1}",
                                   f"v2:{ANN_V1}", f"v2.{ANN_V1[:-1]}", f"{ANN_V1}\n",
                                   "v2.ann@example.com"])
def test_the_pseudonym_fields_refuse_a_marker_of_no_version_or_a_bad_digest(value: str) -> None:
    """Version 1 has no marker, so `v1.` is never made: refused, as raw data is."""
    with pytest.raises(ValidationError, match="keyed pseudonym"):
        PSEUDONYM.validate_python(value)
