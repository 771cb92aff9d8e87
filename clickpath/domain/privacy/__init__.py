"""Privacy decisions that several stages share: sealing personal fields under per-person keys
(crypto-shredding, docs/privacy.md#per-person-keys). Pure: the key store is in infra."""

from clickpath.domain.privacy.sealing import (
    SEALED_PREFIX,
    SealError,
    is_master_key,
    is_sealed,
    key_check_value,
    key_id_of,
    master_key_bytes,
    new_data_key,
    open_fields,
    seal,
    seal_fields,
    unseal,
    unwrap_key,
    wrap_key,
)

__all__ = [
    "SEALED_PREFIX",
    "SealError",
    "is_master_key",
    "is_sealed",
    "key_check_value",
    "key_id_of",
    "master_key_bytes",
    "new_data_key",
    "open_fields",
    "seal",
    "seal_fields",
    "unseal",
    "unwrap_key",
    "wrap_key",
]
