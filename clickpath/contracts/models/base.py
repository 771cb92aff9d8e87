"""The field types every record shares, and `Record`, the base of each model of a schema.

Ids refuse control characters, money is a bounded `Decimal` documented as a string, currencies
are ISO 4217, and pseudonym fields take only what clickpath.domain.pseudonym makes. Nothing
here names a record: the records are in ingress.py, stream.py and outward.py.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)

from clickpath.contracts.money import ISO_4217, check_currency

# No control characters: ids are printed, logged and joined into keys (domain/ledger.py).
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
Text = Annotated[str, StringConstraints(max_length=2048)]
Currency = Annotated[
    str,
    AfterValidator(check_currency),
    WithJsonSchema({"type": "string", "enum": sorted(ISO_4217)}),
]
# Documented as a string: money travels as a decimal string, never a binary float.
Amount = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("1000000000000"), decimal_places=4),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,13}(\.\d{1,4})?$", "examples": ["25.00"]}),
]
Timestamp = AwareDatetime


def _empty_is_zero(value: object) -> object:
    """An Avro decimal field added with a default reads the default's raw bytes (""): zero."""
    return Decimal(0) if value in ("", b"") else value


# A decimal field added to a schema later: data written before it reads as zero.
AddedDecimal = Annotated[Decimal, BeforeValidator(_empty_is_zero)]
# A payment's status: only approved ones count; absent means approved.
PaymentStatus = Literal["pending", "approved", "declined", "cancelled", "refunded"]

# Pseudonym fields carry what clickpath.domain.pseudonym makes, never the raw value: a keyed
# HMAC-SHA256 as 64 hex digits, made with a key of version 1 (no marker: every pseudonym from
# before key rotation) or of version N > 1 (`vN.` before the digits,
# docs/privacy.md#pseudonym-key-rotation); and an IP network no finer than /24 (/48 for IPv6).
# Anything else (an e-mail address in `email_hash`, `v1.` or `v0.`, an address in `ip_prefix`)
# is refused by field.
_HEX_DIGEST = re.compile(r"^(v[2-9]\.|v[1-9][0-9]+\.)?[0-9a-fA-F]{64}$")
IP_PREFIX_MAX_BITS = {4: 24, 6: 48}


def check_hex_digest(value: str) -> str:
    if not _HEX_DIGEST.fullmatch(value):
        raise ValueError("must be a keyed pseudonym: 64 hex digits (HMAC-SHA256), after vN. for "
                         "a key version N above 1, not raw data")
    return value.lower()


def check_ip_prefix(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("must be an IP network prefix such as 203.0.0.0/16") from None
    if "/" not in value or network.prefixlen > IP_PREFIX_MAX_BITS[network.version]:
        raise ValueError(
            f"must be a network prefix of at most /{IP_PREFIX_MAX_BITS[network.version]} "
            "(not an address)"
        )
    return str(network)


Pseudonym = Annotated[str, AfterValidator(check_hex_digest)]
IpPrefix = Annotated[str, AfterValidator(check_ip_prefix)]

# A personal field of a player event after the door: sealed under the player's own key
# (AES-GCM, clickpath.domain.privacy.sealing), so destroying that key erases it on every topic
# and table it was copied to (docs/privacy.md#erasure). A sealed value is `cp1.<key id>.<data>`
# in base64url: printable, and never a valid hash, prefix or id, so the two cannot be confused.
SEALED_PREFIX = "cp1."
SEALED_MAX_CHARS = 4096
_SEALED = re.compile(r"^cp1\.[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+$")


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def _sealed_or(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """A sealed value as it is (only its shape is checked: its content is unreadable without
    the key); anything else through the field's own checks."""
    if is_sealed(value):
        assert isinstance(value, str)
        if len(value) > SEALED_MAX_CHARS or not _SEALED.match(value):
            raise ValueError("a damaged sealed value")
        return value
    return handler(value)


_SEALABLE = WrapValidator(_sealed_or)
SealablePseudonym = Annotated[Pseudonym, _SEALABLE]
SealableIpPrefix = Annotated[IpPrefix, _SEALABLE]
SealableText = Annotated[Text, _SEALABLE]
SealableId = Annotated[Id, _SEALABLE]


class Record(BaseModel):
    """A record with an Avro schema; `avro_name` is the schema's full name."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    avro_name: ClassVar[str]


def utcnow() -> datetime:
    return datetime.now(UTC)
