"""The touchpoint path reader: every person's path (and the paths no person holds) for the
attribution models, read from ClickHouse in one query and turned into `Path`s block by block.

What it reads: the clicks the identity graph puts on each brand account's path
(`identity_touchpoints`, the TouchpointLinks of identity.touchpoints that the ClickHouse sink
writes; clickpath.domain.identity.touches decides them), and for the paths that did not convert
the canonical click events no account's path holds. Never use FINAL here: a touchpoint written
twice, or as both kinds, is one touch (arrayDistinct on the click), and an account's
registration time is its minimum.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

import pyarrow as pa  # type: ignore[import-untyped]  # no stubs
import pyarrow.compute as pc  # type: ignore[import-untyped]
from clickhouse_connect.driver.client import Client

from clickpath.domain.attribution import DEFAULT_CLOCK_SKEW_S
from clickpath.domain.multitouch import Path

NO_VALUE: Mapping[str, Decimal] = MappingProxyType({})

# Seconds between two DateTime64(3) values, exact to the millisecond.
_AGE = "(toUnixTimestamp64Milli({end}) - toUnixTimestamp64Milli({start})) / 1000"
_VALUE_TYPE = "Map(String, Decimal(20, 4))"


def _channel_sql(by: Literal["affiliate", "campaign"], aff: str, camp: str) -> str:
    return aff if by == "affiliate" else f"concat({aff}, '/', {camp})"


def _converting_sql(
    db: str,
    brand_where: str,
    day_having: str,
    conversion: Literal["registration", "ftd"],
    channel: str,
    value: Literal["ngr", "deposits"],
) -> str:
    """Registered persons' paths: their touches in the window, ages to the conversion.

    One aggregation over `identity_touchpoints` per account (the person: a touchpoint written
    twice or as both kinds is one touch, arrayDistinct on the click), joined to `players` for
    the FTD and the value."""
    money = "ngr" if value == "ngr" else "deposit_sum"
    if conversion == "registration":
        converted, end = "toUInt8(1)", "t.reg_at"
    else:
        converted, end = "toUInt8(p.ftd_at IS NOT NULL)", "ifNull(p.ftd_at, t.reg_at)"
    age = _AGE.format(end=end, start="x.1")
    return f"""
        SELECT arrayMap(x -> x.3, t.touches) AS channels,
               arrayMap(x -> greatest(0, {age}), t.touches) AS ages,
               {converted} AS converted,
               if(converted = 1, CAST(mapFilter((k, v) -> v != 0, p.money), '{_VALUE_TYPE}'),
                  CAST(map(), '{_VALUE_TYPE}')) AS value
        FROM
        (
            SELECT account AS person_id, assumeNotNull(min(registered_at)) AS reg_at,
                   arraySort(arrayFilter(
                       x -> x.1 <= reg_at + toIntervalSecond({{skew:UInt32}})
                            AND x.1 >= reg_at - toIntervalDay({{lookback:UInt32}}),
                       arrayDistinct(groupArray((clicked_at, click_id, {channel})))
                   )) AS touches
            FROM {db}.identity_touchpoints
            WHERE {brand_where} AND registered_at IS NOT NULL
            GROUP BY brand_id, account
            HAVING {day_having} AND notEmpty(touches)
        ) AS t
        LEFT JOIN
        (
            SELECT person_id, first_deposit_at AS ftd_at, {money} AS money FROM {db}.players
        ) AS p ON p.person_id = t.person_id
    """


def _non_converting_sql(db: str, brand_where: str, day_where: str, channel: str) -> str:
    """Clicks no account's path holds (canonical click events; bot clicks, which the identity
    stage never puts on a path, left out here too): a device's, split where a gap exceeds the
    lookback; a click without a device id alone. Ages to the path's last click.

    Held clicks are told by a 64-bit hash of (brand, click id), grouped keys too: a set of
    integers is several times cheaper than one of string pairs, and a collision (about one in
    10^6 over 10^7 clicks) would at worst drop one unlinked click from these paths."""
    held = (
        f"cityHash64(brand_id, click_id) NOT IN "
        f"(SELECT cityHash64(brand_id, click_id) FROM {db}.identity_touchpoints "
        f"WHERE {brand_where})"
    )
    age = _AGE.format(end="g[length(g)].1", start="x.1")
    return f"""
        SELECT arrayMap(x -> x.3, g) AS channels,
               arrayMap(x -> {age}, g) AS ages,
               toUInt8(0) AS converted,
               CAST(map(), '{_VALUE_TYPE}') AS value
        FROM
        (
            SELECT arraySort(arrayDistinct(groupArray((occurred_at, click_id, {channel}))))
                       AS clicks,
                   arrayDifference(arrayMap(x -> toUnixTimestamp64Milli(x.1), clicks)) AS gaps
            FROM
            (
                SELECT brand_id, occurred_at, click_id, affiliate_id, campaign_id,
                       JSONExtractString(payload, 'device_id') AS device_id
                FROM {db}.events
                WHERE event_type = 'click' AND click_id != '' AND {brand_where}
                  AND JSONExtractString(payload, 'bot_reason') = '' AND {held}
            )
            GROUP BY if(device_id = '', cityHash64(brand_id, 'click', click_id),
                        cityHash64(brand_id, 'device', device_id))
        )
        ARRAY JOIN arraySplit((x, gap) -> gap > toInt64({{lookback:UInt32}}) * 86400000,
                              clicks, gaps) AS g
        WHERE {day_where.format(day="toDate(g[length(g)].1)")}
    """


def _paths_sql(
    db: str,
    *,
    brand_id: str | None,
    conversion: Literal["registration", "ftd"],
    by: Literal["affiliate", "campaign"],
    value: Literal["ngr", "deposits"],
    since: date | None,
    until: date | None,
) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {}
    brand_where = "1"
    if brand_id:
        brand_where = "brand_id = {brand:String}"
        params["brand"] = brand_id
    days = []  # a template on the day's expression
    if since:
        days.append("{day} >= {{since:Date}}")
        params["since"] = since
    if until:
        days.append("{day} <= {{until:Date}}")
        params["until"] = until
    day_where = " AND ".join(days) or "1"
    channel = _channel_sql(by, "affiliate_id", "campaign_id")
    sql = _converting_sql(db, brand_where, day_where.format(day="toDate(reg_at)"), conversion,
                          channel, value)
    if conversion == "registration":
        sql += " UNION ALL " + _non_converting_sql(db, brand_where, day_where, channel)
    return sql, params


def _array(column: Any) -> Any:
    """One Arrow array of a block's column (a table's column may come in chunks)."""
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


@dataclass
class _Shared:
    """What the blocks of one query share: channel codes, sequences and lone-click paths."""

    names: dict[str, int] = field(default_factory=dict)
    sequences: dict[tuple[int, ...], tuple[str, ...]] = field(default_factory=dict)
    lone: dict[int, Path] = field(default_factory=dict)


def paths_of_block(block: Any, shared: _Shared) -> Iterator[Path]:
    """The Paths of one Arrow block of (channels, ages, converted, value) rows.

    Built from whole columns (offsets and flat values), not row by row through the driver:
    a million paths would otherwise cost several seconds of Python per query. What repeats is
    shared: one tuple per distinct channel sequence (most paths share a few), one empty value,
    and one Path per channel for the commonest path, a lone click that did not convert."""
    channels, ages, converted, value = (_array(block.column(i)) for i in range(4))
    encoded = pc.dictionary_encode(channels.values)
    names, sequences, lone = shared.names, shared.sequences, shared.lone
    codes = [names.setdefault(name, len(names)) for name in encoded.dictionary.to_pylist()]
    touch_codes = [codes[i] for i in encoded.indices.to_pylist()]
    by_code = {code: name for name, code in names.items()}
    offsets = channels.offsets.to_pylist()
    flat_ages = ages.values.to_pylist()
    flags = converted.to_pylist()
    value_offsets = value.offsets.to_pylist()
    currencies = value.keys.to_pylist()
    amounts = value.items.to_pylist()
    for row in range(len(flags)):
        start, end = offsets[row], offsets[row + 1]
        v0, v1 = value_offsets[row], value_offsets[row + 1]
        if end - start == 1 and not flags[row] and v0 == v1 and flat_ages[start] == 0.0:
            code = touch_codes[start]
            path = lone.get(code)
            if path is None:
                path = lone[code] = Path((by_code[code],), (0.0,), False, NO_VALUE)
            yield path
            continue
        key = tuple(touch_codes[start:end])
        sequence = sequences.get(key)
        if sequence is None:
            sequence = sequences[key] = tuple(by_code[c] for c in key)
        if v1 == v0:
            carried: Mapping[str, Decimal] = NO_VALUE
        elif v1 - v0 == 1:  # the usual player, one currency
            carried = {currencies[v0]: amounts[v0]}
        else:
            carried = dict(zip(currencies[v0:v1], amounts[v0:v1], strict=True))
        yield Path(sequence, tuple(flat_ages[start:end]), bool(flags[row]), carried)


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
    clock_skew_s: int = DEFAULT_CLOCK_SKEW_S,
) -> list[Path]:
    """Every path for the attribution models, read in one query, streamed block by block.

    conversion 'registration': each registered person's touches (converted; value: their
    lifetime NGR or deposits per currency), and the clicks no person's path holds
    (not converted; a device's clicks form one path, split where two clicks are more than the
    lookback apart; a click without a device id is its own path).
    conversion 'ftd': each registered person's touches; converted when they made an FTD (ages
    to it, value as above), else not (ages to the registration, no value).
    A person (brand account)'s touches are the clicks the identity graph put on its path
    (identity_touchpoints) in the contract attribution's window (domain/attribution.py),
    oldest first. since/until filter the registration's UTC day (a
    non-converting path's last click's)."""
    sql, params = _paths_sql(
        db, brand_id=brand_id, conversion=conversion, by=by, value=value, since=since, until=until
    )
    params["lookback"], params["skew"] = lookback_days, clock_skew_s

    shared = _Shared()
    paths: list[Path] = []
    with client.query_arrow_stream(sql, parameters=params, use_strings=True) as stream:
        for block in stream:
            paths.extend(paths_of_block(block, shared))
    return paths
