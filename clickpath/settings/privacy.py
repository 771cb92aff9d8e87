"""The pseudonym keys, the master key of the per-person data keys, and the demo flag, the one
thing that lets a shipped key be used (docs/security.md#the-pseudonym-key,
docs/privacy.md#pseudonym-key-rotation, docs/privacy.md#per-person-keys).

`pseudonym_key` is the current identifier key, of version `pseudonym_key_version`, applying
from `pseudonym_key_started_at`; `pseudonym_previous_keys` (version -> key) are the ones it
replaced, hashed with too for `pseudonym_grace_days` after the start. Person ids and player
tokens never rotate: they stay on the key of version 1 (`pseudonym_stable_key`). Knobs and
their consistency only: the strength of each key is checked by the long-running roles at start
(clickpath/run/guards.py), and clickpath.infra.pseudonym_keys makes the domain's keyring.
"""

from __future__ import annotations

from typing import Self

from pydantic import AwareDatetime, BaseModel, Field, SecretStr, model_validator

DEV_PSEUDONYM_KEY = "clickpath-dev-key-change-me"
# Keys that were ever shipped in this repository (source, docker-compose): public, so useless.
SHIPPED_PSEUDONYM_KEYS = frozenset({DEV_PSEUDONYM_KEY, "change-me-in-production"})
# HMAC-SHA256 keys shorter than its 32-byte output weaken every pseudonym; a short key is also
# one a person typed, which is guessable (docs/security.md#the-pseudonym-key).
MIN_PSEUDONYM_KEY_BYTES = 32
STABLE_KEY_VERSION = 1


def _secret(key: SecretStr) -> str:
    return key.get_secret_value().strip()


def key_is_shipped(key: SecretStr) -> bool:
    """No key, or one shipped in the repository (anyone can reverse its pseudonyms)."""
    secret = _secret(key)
    return not secret or secret in SHIPPED_PSEUDONYM_KEYS


def key_is_too_short(key: SecretStr) -> bool:
    """Under MIN_PSEUDONYM_KEY_BYTES (UTF-8): too weak to keep."""
    return len(_secret(key).encode()) < MIN_PSEUDONYM_KEY_BYTES

DEV_MASTER_KEY = "clickpath-dev-master-key-change-me"
# The master key wraps every per-person data key: whoever has it and the key store opens every
# sealed field of every person not yet erased. Same rules as the pseudonym key.
SHIPPED_MASTER_KEYS = frozenset({DEV_MASTER_KEY})
MIN_MASTER_KEY_BYTES = 32


class PrivacySettings(BaseModel):
    """Pseudonyms need a key of your own, except in the demo."""

    pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    master_key: SecretStr = Field(
        default=SecretStr(DEV_MASTER_KEY),
        description="Wraps the per-person data keys (docs/privacy.md#per-person-keys); keep it: "
        "without it no sealed field opens.",
    )
    pseudonym_key_version: int = Field(
        default=1, ge=1, le=9999,
        description="The version of CLICKPATH_PSEUDONYM_KEY: 1 until the first rotation; "
        "pseudonyms of a later version start with v<N>.",
    )
    pseudonym_key_started_at: AwareDatetime | None = Field(
        default=None,
        description="When CLICKPATH_PSEUDONYM_KEY applies from (ISO 8601 with a zone); before "
        "it the newest previous key still applies. Required with previous keys.",
    )
    pseudonym_previous_keys: dict[int, SecretStr] = Field(
        default={},
        description='The keys the current one replaced, {"<version>": "<key>"}: hashed with '
        "too during the grace period.",
    )
    pseudonym_grace_days: int | None = Field(
        default=None, ge=0, le=365,
        description="Days after the current key's start during which the doors also hash with "
        "the previous key; unset: identity_window_days.",
    )
    pseudonym_token_key: SecretStr | None = Field(
        default=None,
        description="Where to keep the version-1 key once it has left the previous keys: person "
        "ids and player tokens are made with it forever.",
    )
    demo: bool = Field(
        default=False,
        description="Set by `clickpath up --demo` for its roles: the shipped pseudonym "
        "and master keys are accepted. Never set it in production.",
    )

    @model_validator(mode="after")
    def _keyring_holds_together(self) -> Self:
        """Versions unique and increasing, a start for a rotation, no key reused, and the
        stable key's whereabouts: each problem named by its variable."""
        current = self.pseudonym_key_version
        late = sorted(v for v in self.pseudonym_previous_keys if not 1 <= v < current)
        if late:
            raise ValueError(
                f"CLICKPATH_PSEUDONYM_PREVIOUS_KEYS: version {late[0]} must be at least 1 and "
                f"below the current CLICKPATH_PSEUDONYM_KEY_VERSION {current} (versions only "
                "increase)")
        if self.pseudonym_previous_keys and self.pseudonym_key_started_at is None:
            raise ValueError(
                "CLICKPATH_PSEUDONYM_KEY_STARTED_AT: needed with previous keys (the grace "
                "period counts from the current key's start)")
        secrets = [_secret(k) for k in self.pseudonym_previous_keys.values()]
        secrets.append(_secret(self.pseudonym_key))
        if len(set(secrets)) != len(secrets):
            raise ValueError(
                "CLICKPATH_PSEUDONYM_PREVIOUS_KEYS: a key is used for two versions; a rotation "
                "needs a new key")
        known = self._version_one_key()
        token = self.pseudonym_token_key
        if token is not None and known is not None and _secret(token) != _secret(known):
            raise ValueError(
                "CLICKPATH_PSEUDONYM_TOKEN_KEY: differs from the version-1 key; person ids and "
                "player tokens would change (it must hold the version-1 key)")
        if token is None and known is None:
            raise ValueError(
                "CLICKPATH_PSEUDONYM_TOKEN_KEY: set it to the version-1 key (or keep version 1 "
                "in CLICKPATH_PSEUDONYM_PREVIOUS_KEYS): person ids and player tokens are made "
                "with it, and never change")
        return self

    def _version_one_key(self) -> SecretStr | None:
        if self.pseudonym_key_version == STABLE_KEY_VERSION:
            return self.pseudonym_key
        return self.pseudonym_previous_keys.get(STABLE_KEY_VERSION)

    @property
    def pseudonym_stable_key(self) -> SecretStr:
        """The key of person ids and player tokens: the version-1 key, wherever it is kept. It
        does not rotate, so a player's token and person id never change (docs/privacy.md)."""
        key = self.pseudonym_token_key or self._version_one_key()
        assert key is not None, "checked by _keyring_holds_together"
        return key

    def pseudonym_keys_named(self) -> list[tuple[str, SecretStr]]:
        """Every pseudonym key with the variable that holds it, for the start checks."""
        named = [("CLICKPATH_PSEUDONYM_KEY", self.pseudonym_key)]
        named += [(f"CLICKPATH_PSEUDONYM_PREVIOUS_KEYS[{v}]", k)
                  for v, k in sorted(self.pseudonym_previous_keys.items())]
        if self.pseudonym_token_key is not None:
            named.append(("CLICKPATH_PSEUDONYM_TOKEN_KEY", self.pseudonym_token_key))
        return named

    @property
    def pseudonym_key_is_shipped(self) -> bool:
        """No key was set, or one shipped in the repository (anyone can reverse its pseudonyms)."""
        return key_is_shipped(self.pseudonym_key)

    @property
    def pseudonym_key_too_short(self) -> bool:
        """A key of our own, but under MIN_PSEUDONYM_KEY_BYTES (UTF-8): too weak to keep."""
        return len(self.pseudonym_key.get_secret_value().strip().encode()) < MIN_PSEUDONYM_KEY_BYTES

    @property
    def master_key_is_shipped(self) -> bool:
        """No master key was set, or one shipped in the repository."""
        key = self.master_key.get_secret_value().strip()
        return not key or key in SHIPPED_MASTER_KEYS

    @property
    def master_key_too_short(self) -> bool:
        """A master key of our own, but under MIN_MASTER_KEY_BYTES (UTF-8)."""
        return len(self.master_key.get_secret_value().strip().encode()) < MIN_MASTER_KEY_BYTES
        return key_is_too_short(self.pseudonym_key)
