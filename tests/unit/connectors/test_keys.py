"""API keys: the CLI's store and the service's view of it, two objects on one file."""

from __future__ import annotations

import pytest

from clickpath.connectors.keys import KeyStore


def test_a_key_works_until_revoked_and_the_other_reader_sees_both(tmp_path) -> None:
    cli, service = KeyStore(tmp_path / "keys.json"), KeyStore(tmp_path / "keys.json")
    key, secret = cli.create("operator", brand_id="b1")
    found = service.authenticate(secret)
    assert found is not None and (found.role, found.brand_id) == ("operator", "b1")
    assert secret not in (tmp_path / "keys.json").read_text()  # only a digest is stored
    assert service.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert service.authenticate("Bearer nonsense") is None
    cli.revoke(key.key_id)
    assert service.authenticate(secret) is None
    assert [k.active for k in KeyStore(tmp_path / "keys.json").list()] == [False]


def test_scoped_roles_need_their_scope(tmp_path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    with pytest.raises(ValueError):
        store.create("operator")
    with pytest.raises(ValueError):
        store.create("affiliate")
    assert store.create("admin")[0].role == "admin"
