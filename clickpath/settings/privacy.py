"""The pseudonym key, the master key of the per-person data keys, and the demo flag, the one thing
that lets a shipped key be used (docs/security.md#the-pseudonym-key,
docs/privacy.md#per-person-keys)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

DEV_PSEUDONYM_KEY = "clickpath-dev-key-change-me"
# Keys that were ever shipped in this repository (source, docker-compose): public, so useless.
SHIPPED_PSEUDONYM_KEYS = frozenset({DEV_PSEUDONYM_KEY, "change-me-in-production"})
# HMAC-SHA256 keys shorter than its 32-byte output weaken every pseudonym; a short key is also
# one a person typed, which is guessable (docs/security.md#the-pseudonym-key).
MIN_PSEUDONYM_KEY_BYTES = 32

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
    demo: bool = Field(
        default=False,
        description="Set by `clickpath up --demo` for its roles: the shipped pseudonym "
        "and master keys are accepted. Never set it in production.",
    )

    @property
    def pseudonym_key_is_shipped(self) -> bool:
        """No key was set, or one shipped in the repository (anyone can reverse its pseudonyms)."""
        key = self.pseudonym_key.get_secret_value().strip()
        return not key or key in SHIPPED_PSEUDONYM_KEYS

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
