"""API keys: minted and revoked by the CLI, checked by the running service.

A key is `cpk_<key_id>_<secret>`; only a SHA-256 digest of it is stored (in
`<data_dir>/api-keys.json`, a `WatchedJsonFile`). The service re-reads the file
when it changes, so `clickpath keys create|revoke` take effect on a running service, and
keys survive a restart. Each key carries a role (docs/http-api.md, 'API keys') and its scope:
operators and analysts are bound to a brand (the one an operator sends events for, the one
either may read reports of); an affiliate key to its affiliate (and optionally a brand); an
admin key sees everything.

The CLI on the host needs no key flag: `local_secret` gives it an admin key of its own, whose
secret is kept in a file beside the store readable by its owner only (docs/security.md). Whoever
can read the data directory can mint keys anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from clickpath.contracts.models import utcnow
from clickpath.infra.jsonstore import WatchedJsonFile, write_atomic

Role = Literal["operator", "affiliate", "analyst", "admin"]
PREFIX = "cpk"
LOCAL_CLI_LABEL = "local-cli"
BRAND_BOUND: tuple[Role, ...] = ("operator", "analyst")


class ApiKey(BaseModel):
    key_id: str
    role: Role
    brand_id: str | None = None
    affiliate_id: str | None = None
    label: str | None = None
    digest: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyError_(LookupError):
    """No such key."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = WatchedJsonFile(path, empty=[])
        self._keys: dict[str, ApiKey] = {}

    # --- read side (the service) ---------------------------------------------------------

    def authenticate(self, presented: str) -> ApiKey | None:
        """The active key `presented` is, or None (unknown, malformed or revoked)."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        key = self._current().get(parts[1])
        if key is None or not key.active:
            return None
        return key if hmac.compare_digest(key.digest, _digest(presented)) else None

    def list(self) -> list[ApiKey]:
        return sorted(self._current().values(), key=lambda k: k.created_at)

    def _current(self) -> dict[str, ApiKey]:
        data = self._file.changed()
        if data is not None:
            self._keys = _parse(data)
        return self._keys

    # --- write side (the CLI) -----------------------------------------------------------

    def create(
        self, role: Role, brand_id: str | None = None, affiliate_id: str | None = None,
        label: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Mint a key; returns it and the secret, which is shown once and never stored."""
        if role in BRAND_BOUND and not brand_id:
            raise ValueError(f"an {role} key needs --brand")
        if role == "affiliate" and not affiliate_id:
            raise ValueError("an affiliate key needs --affiliate")
        if role != "affiliate" and affiliate_id:
            raise ValueError("only an affiliate key takes --affiliate")
        if role == "admin" and brand_id:
            raise ValueError("an admin key sees every brand: no --brand")
        key_id = secrets.token_hex(6)
        secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            key_id=key_id, role=role, brand_id=brand_id, affiliate_id=affiliate_id, label=label,
            digest=_digest(secret), created_at=utcnow(),
        )
        with self._file.edit() as data:
            data.append(key.model_dump(mode="json"))
        return key, secret

    @property
    def local_secret_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".local-cli")

    def kept_local_secret(self) -> str | None:
        """The CLI's own admin key kept beside the store, while it works; else None."""
        try:
            kept = self.local_secret_path.read_text().strip()
        except FileNotFoundError:
            return None
        return kept if kept and self.authenticate(kept) is not None else None

    def local_secret(self, on_mint: Callable[[ApiKey], None] | None = None) -> str:
        """The CLI's own admin key on this host: the one kept beside the store while it works,
        else a new one (minted, its secret written readable by this user only). `on_mint` is
        told of a new key before its secret is kept: raising there leaves it unusable."""
        kept = self.kept_local_secret()
        if kept is not None:
            return kept
        key, secret = self.create("admin", label=LOCAL_CLI_LABEL)
        if on_mint is not None:
            on_mint(key)
        path = self.local_secret_path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, secret + "\n", mode=0o600)
        return secret

    def revoke(self, key_id_or_secret: str) -> ApiKey:
        parts = key_id_or_secret.split("_", 2)
        key_id = parts[1] if len(parts) == 3 and parts[0] == PREFIX else key_id_or_secret
        with self._file.edit() as data:
            for i, raw in enumerate(data):
                if raw["key_id"] == key_id:
                    key = ApiKey.model_validate(raw)
                    if key.active:
                        key = key.model_copy(update={"revoked_at": utcnow()})
                        data[i] = key.model_dump(mode="json")
                    return key
        raise KeyError_(f"no API key {key_id!r}")


def _parse(data: list[dict[str, object]]) -> dict[str, ApiKey]:
    keys = (ApiKey.model_validate(k) for k in data)
    return {k.key_id: k for k in keys}
