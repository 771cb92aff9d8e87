"""The pseudonym key, the audit key, and the demo flag, the one thing that lets the shipped keys
be used (docs/security.md#the-pseudonym-key, docs/privacy.md#audit-trail)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

DEV_PSEUDONYM_KEY = "clickpath-dev-key-change-me"
# Keys that were ever shipped in this repository (source, docker-compose): public, so useless.
SHIPPED_PSEUDONYM_KEYS = frozenset({DEV_PSEUDONYM_KEY, "change-me-in-production"})
# HMAC-SHA256 keys shorter than its 32-byte output weaken every pseudonym; a short key is also
# one a person typed, which is guessable (docs/security.md#the-pseudonym-key).
MIN_PSEUDONYM_KEY_BYTES = 32

DEV_AUDIT_KEY = "clickpath-dev-audit-key-change-me"
# Whoever knows the key can sign a head over a rewritten audit chain: a shipped one proves nothing.
SHIPPED_AUDIT_KEYS = frozenset({DEV_AUDIT_KEY})
MIN_AUDIT_KEY_BYTES = 32


class PrivacySettings(BaseModel):
    """Pseudonyms need a key of your own, except in the demo."""

    pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    audit_key: SecretStr = Field(
        default=SecretStr(DEV_AUDIT_KEY),
        description="Signs the audit chain's head (HMAC-SHA256); the same on every role and CLI "
        "of a host, kept apart from the data directory (docs/privacy.md#audit-trail).",
    )
    demo: bool = Field(
        default=False,
        description="Set by `clickpath up --demo` for its roles: the shipped pseudonym and audit "
        "keys are accepted. Never set it in production.",
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
    def audit_key_is_shipped(self) -> bool:
        """No audit key was set, or the one shipped in the repository (anyone can sign with it)."""
        key = self.audit_key.get_secret_value().strip()
        return not key or key in SHIPPED_AUDIT_KEYS

    @property
    def audit_key_too_short(self) -> bool:
        return len(self.audit_key.get_secret_value().strip().encode()) < MIN_AUDIT_KEY_BYTES
