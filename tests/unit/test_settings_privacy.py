"""The pseudonym key rotation's settings: what holds together starts, what does not is refused
naming the variable, and every key of the rotation passes the start checks (docs/privacy.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from clickpath.infra.pseudonym_keys import keyring, stable_key
from clickpath.run.errors import CommandError
from clickpath.run.guards import require_own_pseudonym_key
from clickpath.settings import DEV_PSEUDONYM_KEY, Settings

V1, V2, V3 = ("a" * 40, "b" * 40, "c" * 40)
START = "2026-12-01T00:00:00Z"


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for var in list(os.environ):
        if var.startswith("CLICKPATH_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(tmp_path / "cp"))


def rotated(**more: object) -> Settings:
    given: dict[str, object] = {"pseudonym_key": V2, "pseudonym_key_version": 2,
                                "pseudonym_key_started_at": START, "pseudonym_previous_keys": {1: V1}}
    return Settings(**{**given, **more})


def test_a_rotation_read_from_the_environment_makes_the_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKPATH_PSEUDONYM_KEY", V3)
    monkeypatch.setenv("CLICKPATH_PSEUDONYM_KEY_VERSION", "3")
    monkeypatch.setenv("CLICKPATH_PSEUDONYM_KEY_STARTED_AT", START)
    monkeypatch.setenv("CLICKPATH_PSEUDONYM_PREVIOUS_KEYS", f'{{"2": "{V2}", "1": "{V1}"}}')
    monkeypatch.setenv("CLICKPATH_PSEUDONYM_GRACE_DAYS", "10")
    s = Settings()
    ring = keyring(s)
    assert (ring.current.version, [k.version for k in ring.previous]) == (3, [1, 2])
    assert ring.current.secret == V3.encode() and ring.previous[-1].secret == V2.encode()
    assert (ring.started_at, ring.grace) == (datetime(2026, 12, 1, tzinfo=UTC), timedelta(days=10))
    assert stable_key(s) == V1.encode()
    assert V1 not in repr(s) and V2 not in repr(s)  # secrets, masked


def test_without_a_rotation_the_one_key_is_current_and_stable() -> None:
    s = Settings(pseudonym_key=V1)
    ring = keyring(s)
    assert (ring.current.version, ring.previous, ring.started_at) == (1, (), None)
    assert stable_key(s) == ring.current.secret == V1.encode()
    assert s.pseudonym_grace == s.identity_window_days == 30
    assert rotated(pseudonym_grace_days=0).pseudonym_grace == 0


@pytest.mark.parametrize(("given", "named"), [
    ({"pseudonym_previous_keys": {2: V1}}, "CLICKPATH_PSEUDONYM_PREVIOUS_KEYS: version 2"),
    ({"pseudonym_previous_keys": {1: V1, 3: V3}}, "version 3 must be at least 1 and below the current"),
    ({"pseudonym_previous_keys": {0: V1}}, "version 0"),
    ({"pseudonym_key_started_at": None}, "CLICKPATH_PSEUDONYM_KEY_STARTED_AT"),
    ({"pseudonym_previous_keys": {1: V2}}, "used for two versions"),
    ({"pseudonym_previous_keys": {}, "pseudonym_key_started_at": None}, "CLICKPATH_PSEUDONYM_TOKEN_KEY"),
    ({"pseudonym_token_key": V3}, "CLICKPATH_PSEUDONYM_TOKEN_KEY: differs"),
    ({"pseudonym_key_started_at": "2026-12-01T00:00:00"}, "timezone"),
    ({"pseudonym_grace_days": -1}, "pseudonym_grace_days"),
])
def test_a_keyring_that_does_not_hold_together_is_refused_naming_it(given: dict[str, object],
                                                                     named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        rotated(**given)


def test_the_version_one_key_may_leave_the_previous_keys_for_the_token_key() -> None:
    """After the grace period: no previous key, the version-1 key kept for tokens only."""
    pruned = rotated(pseudonym_previous_keys={}, pseudonym_key_started_at=None, pseudonym_token_key=V1)
    assert stable_key(pruned) == stable_key(rotated()) == stable_key(Settings(pseudonym_key=V1))
    assert keyring(pruned).previous == () and keyring(pruned).current.version == 2
    assert stable_key(rotated(pseudonym_token_key=V1)) == V1.encode()  # both places: they agree


def test_the_rotation_survives_the_trip_to_a_child_process(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = rotated(pseudonym_grace_days=9)
    env = parent.to_env()
    assert V1 in env["CLICKPATH_PSEUDONYM_PREVIOUS_KEYS"]  # the secret, not its mask
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    child = Settings()
    assert keyring(child) == keyring(parent) and stable_key(child) == stable_key(parent)


@pytest.mark.parametrize(("given", "named"), [
    ({"pseudonym_previous_keys": {1: "short-old-key"}}, r"CLICKPATH_PSEUDONYM_PREVIOUS_KEYS\[1\]"),
    ({"pseudonym_previous_keys": {1: DEV_PSEUDONYM_KEY}}, r"CLICKPATH_PSEUDONYM_PREVIOUS_KEYS\[1\]"),
    ({"pseudonym_previous_keys": {}, "pseudonym_key_started_at": None,
      "pseudonym_token_key": "short"}, "CLICKPATH_PSEUDONYM_TOKEN_KEY"),
    ({"pseudonym_key": "short-new-key"}, "CLICKPATH_PSEUDONYM_KEY "),
])
def test_every_key_of_a_rotation_passes_the_start_checks(given: dict[str, object], named: str) -> None:
    with pytest.raises(CommandError, match=named):
        require_own_pseudonym_key(rotated(**given), "worker")
    require_own_pseudonym_key(rotated(), "worker")


def test_the_demo_accepts_a_shipped_previous_key_but_not_a_short_one() -> None:
    require_own_pseudonym_key(rotated(pseudonym_previous_keys={1: DEV_PSEUDONYM_KEY}), "up", demo=True)
    with pytest.raises(CommandError, match="short pseudonym key"):
        require_own_pseudonym_key(rotated(pseudonym_previous_keys={1: "short"}), "up", demo=True)
