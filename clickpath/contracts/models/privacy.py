"""The models of `schemas/privacy/`: what an erasure did, for the sink that finishes it."""

from __future__ import annotations

from typing import ClassVar

from clickpath.contracts.models.base import Record, Timestamp


class Erasure(Record):
    """A brand account erased from the identity graph (docs/privacy.md#erasure): the ClickHouse
    sink destroys the account's key, anonymises its rows and writes the certificate from it."""

    avro_name: ClassVar[str] = "io.clickpath.privacy.Erasure"
    account: str  # the key
    brand_id: str
    player_id: str
    request_id: str  # the erasure_request's event_id
    requested_by: str | None = None
    requested_at: Timestamp
    erased_at: Timestamp
    person_id: str
    identifiers_removed: int
    links_removed: int
    click_ids: list[str] = []
    affiliate_id: str | None = None
