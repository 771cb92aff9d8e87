"""Sealed fields: the personal values kept after ingress, encrypted under a per-person data key,
so that destroying the key erases them everywhere they were copied, topics included
(crypto-shredding, docs/privacy.md#per-person-keys).

A sealed value is text, `cp1.<key id>.<nonce|ciphertext>` (both parts base64url, unpadded): it
fits the string fields it replaces and names the key that opens it. AES-256-GCM with associated
data that binds the key id and the field name, so a value copied to another field or onto another
person does not open. Data keys are wrapped (AES-256-GCM, the key id as associated data) by the
master key from settings before they are stored.

Pure: no I/O, no clock. Nonces come from os.urandom unless a test passes one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEALED_PREFIX: Final = "cp1."
KEY_BYTES: Final = 32  # AES-256
NONCE_BYTES: Final = 12  # GCM's standard nonce; random, so at most ~2^32 seals per key (far beyond a person)
TAG_BYTES: Final = 16
# The master key is derived from the settings' secret with HKDF-SHA256 (no salt, this info):
# any secret length gives a uniform 32-byte key, and the info keeps it apart from other uses.
MASTER_KEY_INFO: Final = b"clickpath/master-key/v1"
_KEY_CHECK_INFO: Final = b"clickpath/master-key-check/v1"
_SEAL_AAD: Final = b"cp1/seal"
_WRAP_AAD: Final = b"cp1/wrap"


class SealError(ValueError):
    """Not a sealed value, a damaged one, or one that this key (field, key id) does not open."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or "=" in text:
        raise SealError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise SealError("not base64url") from None


def _framed(*parts: bytes) -> bytes:
    """Length-prefixed parts: no key id or field name can be read as another split."""
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _seal_aad(key_id: str, field: str) -> bytes:
    return _framed(_SEAL_AAD, key_id.encode(), field.encode())


def _check_key(key: bytes, what: str) -> None:
    if len(key) != KEY_BYTES:
        raise SealError(f"{what} must be {KEY_BYTES} bytes, got {len(key)}")


def _parse(value: str) -> tuple[str, bytes]:
    """(key id, nonce|ciphertext) of a sealed value; SealError when it is not one."""
    if not value.startswith(SEALED_PREFIX):
        raise SealError("not a sealed value")
    parts = value[len(SEALED_PREFIX):].split(".")
    if len(parts) != 2:
        raise SealError("a sealed value has a key id and a body")
    try:
        key_id = _unb64(parts[0]).decode()
    except UnicodeDecodeError:
        raise SealError("the key id is not UTF-8") from None
    body = _unb64(parts[1])
    if len(body) < NONCE_BYTES + TAG_BYTES:
        raise SealError("the sealed body is too short")
    return key_id, body


def new_data_key() -> bytes:
    """A fresh per-person data key: 32 random bytes."""
    return os.urandom(KEY_BYTES)


def seal(data_key: bytes, key_id: str, field: str, plaintext: str, nonce: bytes | None = None) -> str:
    """`plaintext` encrypted under `data_key`, opening only as `field` of `key_id`."""
    _check_key(data_key, "a data key")
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise SealError(f"a nonce must be {NONCE_BYTES} bytes")
    sealed = AESGCM(data_key).encrypt(nonce, plaintext.encode(), _seal_aad(key_id, field))
    return f"{SEALED_PREFIX}{_b64(key_id.encode())}.{_b64(nonce + sealed)}"


def is_sealed(value: object) -> bool:
    """Whether `value` has the shape of a sealed value (it says nothing of whether it opens)."""
    if not isinstance(value, str):
        return False
    try:
        _parse(value)
    except SealError:
        return False
    return True


def key_id_of(value: str) -> str | None:
    """The key id a sealed value names; None when it is not a sealed value."""
    try:
        return _parse(value)[0]
    except SealError:
        return None


def unseal(data_key: bytes, field: str, value: str) -> str:
    """The plaintext of a value sealed as `field` under `data_key`; SealError when it is not a
    sealed value, is damaged, or was sealed under another key, key id or field."""
    _check_key(data_key, "a data key")
    key_id, body = _parse(value)
    try:
        plain = AESGCM(data_key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _seal_aad(key_id, field))
    except InvalidTag:
        raise SealError(f"the sealed {field} does not open with this key") from None
    try:
        return plain.decode()
    except UnicodeDecodeError:  # only a sealer other than seal() could get here
        raise SealError(f"the sealed {field} is not text") from None


def _opens(data_key: bytes, field: str, value: str) -> bool:
    try:
        unseal(data_key, field, value)
    except SealError:
        return False
    return True


def seal_fields(
    data_key: bytes, key_id: str, values: dict[str, Any], fields: Iterable[str]
) -> dict[str, Any]:
    """A copy of `values` with the named fields sealed: those present, str and non-empty. A value
    already sealed by this key as this field is kept; anything else that merely looks sealed (sent
    from outside, or sealed for someone else) is sealed again, so that destroying this person's key
    still erases it."""
    out = dict(values)
    for field in fields:
        value = out.get(field)
        if not isinstance(value, str) or not value:
            continue
        if key_id_of(value) == key_id and _opens(data_key, field, value):
            continue
        out[field] = seal(data_key, key_id, field, value)
    return out


def open_fields(
    lookup: Callable[[str], bytes | None], values: dict[str, Any], fields: Iterable[str]
) -> dict[str, Any]:
    """A copy of `values` with the named sealed fields opened; one whose key `lookup` no longer
    has (erased) becomes None. Values that are not sealed are left as they are. Raises SealError
    for a sealed value that its key does not open (damaged or forged): the caller dead-letters it."""
    out = dict(values)
    keys: dict[str, bytes | None] = {}
    for field in fields:
        value = out.get(field)
        if not isinstance(value, str):
            continue
        key_id = key_id_of(value)
        if key_id is None:
            continue
        if key_id not in keys:
            keys[key_id] = lookup(key_id)
        key = keys[key_id]
        out[field] = None if key is None else unseal(key, field, value)
    return out


def wrap_key(master_key: bytes, key_id: str, data_key: bytes, nonce: bytes | None = None) -> bytes:
    """`data_key` encrypted under the master key (nonce|ciphertext|tag, 60 bytes), bound to
    `key_id`: a wrapped key moved to another person's row does not unwrap."""
    _check_key(master_key, "the master key")
    _check_key(data_key, "a data key")
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    return nonce + AESGCM(master_key).encrypt(nonce, data_key, _framed(_WRAP_AAD, key_id.encode()))


def unwrap_key(master_key: bytes, key_id: str, wrapped: bytes) -> bytes:
    """The data key of `key_id`; SealError when `wrapped` is damaged, another key id's, or
    wrapped under another master key."""
    _check_key(master_key, "the master key")
    if len(wrapped) != NONCE_BYTES + KEY_BYTES + TAG_BYTES:
        raise SealError("a wrapped key has the wrong length")
    try:
        return AESGCM(master_key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _framed(_WRAP_AAD, key_id.encode())
        )
    except InvalidTag:
        raise SealError(f"the data key of {key_id!r} does not unwrap with this master key") from None


def master_key_bytes(secret: str) -> bytes:
    """The 32-byte master key from the settings' secret: HKDF-SHA256, no salt, info
    MASTER_KEY_INFO, over the secret's UTF-8 bytes (surrounding blanks stripped, as the
    settings' length check reads it)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=MASTER_KEY_INFO).derive(
        secret.strip().encode()
    )


def key_check_value(master_key: bytes) -> bytes:
    """What a key store keeps to recognise its master key: HMAC-SHA256 of a fixed label. It tells
    a wrong key at start without revealing the key."""
    return hmac.new(master_key, _KEY_CHECK_INFO, hashlib.sha256).digest()


def is_master_key(master_key: bytes, check_value: bytes) -> bool:
    return hmac.compare_digest(key_check_value(master_key), check_value)
