"""TEMP stand-in for the touchpoints branch's module (dropped at merge): the contract's
signatures only (/work/wt/CONTRACT.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

from clickhouse_connect.driver.client import Client

from clickpath.contracts.models import CanonicalEvent
from clickpath.domain.multitouch import Path


def link_touchpoints(client: Client, db: str, events: Sequence[CanonicalEvent]) -> int:
    raise NotImplementedError("touchpoints branch")


def query_paths(
    client: Client,
    db: str,
    *,
    brand_id: str | None,
    conversion: Literal["registration", "ftd"],
    by: Literal["affiliate", "campaign"],
    value: Literal["ngr", "deposits"],
    since: date | None,
    until: date | None,
    lookback_days: int,
) -> list[Path]:
    raise NotImplementedError("touchpoints branch")
