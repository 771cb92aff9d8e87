from __future__ import annotations

import pytest

from clickpath.domain.pseudonym import keyed_hash, normalise_phone, player_token, pseudonymise_ip


def test_pseudonyms_are_keyed_and_stable() -> None:
    assert keyed_hash(b"k1", "email", "a@b.c") == keyed_hash(b"k1", "email", "a@b.c")
    assert keyed_hash(b"k1", "email", "a@b.c") != keyed_hash(b"k2", "email", "a@b.c")
    assert keyed_hash(b"k1", "email", "x") != keyed_hash(b"k1", "phone", "x")


def test_ip_is_reduced_to_a_hash_and_a_prefix() -> None:
    digest, prefix = pseudonymise_ip(b"k", "203.0.113.77")
    assert prefix == "203.0.0.0/16" and "203.0.113.77" not in digest
    assert pseudonymise_ip(b"k", "2001:db8:1:2::5")[1] == "2001:db8::/32"
    with pytest.raises(ValueError):
        pseudonymise_ip(b"k", "not-an-ip")


def test_phone_numbers_match_whatever_their_punctuation() -> None:
    assert normalise_phone("+44 20 7946-0958") == normalise_phone("+442079460958")


def test_the_prefix_beside_a_hash_is_too_coarse_to_enumerate_a_household() -> None:
    """Issue 13, High 3: with a /24 beside the hash, 256 HMACs recovered the address."""
    import ipaddress

    for ip in ("203.0.113.77", "2001:db8:1:2::5"):
        _, prefix = pseudonymise_ip(b"k", ip)
        assert ipaddress.ip_network(prefix).num_addresses >= 65536


def test_an_ipv4_client_on_a_dual_stack_socket_is_pseudonymised_as_ipv4() -> None:
    from clickpath.domain.pseudonym import ip_prefix, pseudonymise_ip

    assert ip_prefix("::ffff:203.0.113.9") == "203.0.0.0/16"
    assert pseudonymise_ip(b"k", "::ffff:203.0.113.9") == pseudonymise_ip(b"k", "203.0.113.9")


def test_a_player_token_is_the_one_affiliates_already_hold() -> None:
    """Golden: affiliates join their own reports by this token, so it never changes; it
    differs per affiliate, so two affiliates cannot join theirs."""
    assert player_token(b"k", "aff-1", "brand-a:p1") == "571fb6a71a2b305fc6c3f634be7307b3"
    assert player_token(b"k", "aff-2", "brand-a:p1") != player_token(b"k", "aff-1", "brand-a:p1")
