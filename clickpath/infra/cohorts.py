"""TEMP stand-in for the cohorts branch's module (dropped at merge): the contract's
signatures only (/work/wt/CONTRACT.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from clickhouse_connect.driver.client import Client

Money = Any  # the cohorts branch's money type


def query_cohorts(
    client: Client,
    db: str,
    *,
    brand_id: str | None,
    grain: Literal["week", "month"],
    time_zones: Mapping[str, str],
    cpa: Mapping[str, Money],
    since: date | None,
    until: date | None,
) -> list[dict[str, Any]]:
    raise NotImplementedError("cohorts branch")


def query_retention(
    client: Client,
    db: str,
    *,
    brand_id: str | None,
    grain: Literal["week", "month"],
    time_zones: Mapping[str, str],
    periods: int,
    since: date | None,
    until: date | None,
) -> list[dict[str, Any]]:
    raise NotImplementedError("cohorts branch")
