"""The pseudonym keys as the doors and stages use them, made once from settings.

`keyring(settings)`: the rotating identifier keys (e-mail, phone and IP pseudonyms), which the
doors hash with; `stable_key(settings)`: the key of person ids and player tokens, pinned to the
version-1 key so that neither ever changes (docs/privacy.md#pseudonym-key-rotation). Nothing
else turns the settings' secrets into key bytes, so no caller can pick the wrong one.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr

from clickpath.domain.pseudonym import Keyring, PseudonymKey
from clickpath.settings import Settings


def keyring(settings: Settings) -> Keyring:
    """The identifier keys: current (CLICKPATH_PSEUDONYM_KEY at its version and start), the
    previous ones, oldest first, and the grace period."""
    return Keyring(
        current=PseudonymKey(settings.pseudonym_key_version, _bytes(settings.pseudonym_key)),
        previous=tuple(PseudonymKey(version, _bytes(key))
                       for version, key in sorted(settings.pseudonym_previous_keys.items())),
        started_at=settings.pseudonym_key_started_at,
        grace=timedelta(days=settings.pseudonym_grace),
    )


def stable_key(settings: Settings) -> bytes:
    """The key of person ids and player tokens: the version-1 key, whatever the current one."""
    return _bytes(settings.pseudonym_stable_key)


def _bytes(key: SecretStr) -> bytes:
    """As the keys were always used: the secret's UTF-8 bytes, untrimmed (a trimmed key would
    change every existing pseudonym of a key set with a stray space)."""
    return key.get_secret_value().encode()
