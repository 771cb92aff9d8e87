"""Touchpoints in ClickHouse: linking each registered person's clicks, and reading their paths.

A registration names one click, its last. The person's earlier clicks are linked through the
web SDK's first-party device id (docs/touchpoints.md): every click of the same brand and device
within the lookback window before the registration, plus the named click always.

Linking is incremental and order-independent. Right after the ClickHouse sink writes a batch of
canonical events it calls `link_touchpoints`, which first writes the batch's clicks and
registrations into the key tables (deploy/clickhouse/006_touchpoints.sql), then looks up the
other side by key: for the batch's registrations the clicks they reach, for its clicks the
registrations that reach them. Each insert has returned (and is visible to every later query)
before the look-up that follows it, so of a click and a registration, the one whose look-up
runs second sees the other, even when two sinks write them at the same time: if A's look-up
missed B's row, B's insert ended after A's look-up began, hence after A's insert, and B's
look-up (after B's insert) sees A's row. Nothing here reads `events` and nothing scans:
look-ups go by the key tables' primary key, in the months the window spans.

Never use FINAL here: the key tables may hold a replayed batch twice, and the links are read
grouped by their key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

import pyarrow as pa  # type: ignore[import-untyped]  # no stubs
import pyarrow.compute as pc  # type: ignore[import-untyped]
from clickhouse_connect.driver.client import Client

from clickpath.contracts.models import CanonicalEvent
from clickpath.domain.attribution import DEFAULT_CLOCK_SKEW_S, AttributionWindow
from clickpath.domain.multitouch import Path
from clickpath.infra.metrics import TOUCHPOINTS_LINKED

SUBS = ("sub1", "sub2", "sub3", "sub4", "sub5")
CLICK_KEY_COLUMNS = [
    "brand_id",
    "via",
    "key",
    "occurred_at",
    "click_id",
    "device_id",
    "affiliate_id",
    "campaign_id",
    *SUBS,
]
REGISTRATION_KEY_COLUMNS = [
    "brand_id",
    "via",
    "key",
    "registered_at",
    "person_id",
    "device_id",
    "click_id",
]
TOUCHPOINT_COLUMNS = [
    "brand_id",
    "person_id",
    "click_id",
    "affiliate_id",
    "campaign_id",
    *SUBS,
    "clicked_at",
    "registered_at",
    "link",
    "device_id",
]
NAMED, DEVICE = "named_click", "device"


@dataclass(frozen=True, slots=True)
class ClickKey:
    """A click as the key tables hold it."""

    brand_id: str
    occurred_at: datetime
    click_id: str
    device_id: str
    affiliate_id: str
    campaign_id: str
    subs: tuple[str, ...]

    def lookup_keys(self) -> list[tuple[str, str]]:
        return [("click", self.click_id)] + ([("device", self.device_id)] if self.device_id else [])


@dataclass(frozen=True, slots=True)
class RegistrationKey:
    """A registration as the key tables hold it."""

    brand_id: str
    registered_at: datetime
    person_id: str
    device_id: str
    click_id: str

    def lookup_keys(self) -> list[tuple[str, str]]:
        named = [("click", self.click_id)] if self.click_id else []
        return named + ([("device", self.device_id)] if self.device_id else [])


def _utc(t: datetime) -> datetime:
    """The driver reads DateTime64(3, 'UTC') as naive UTC; events carry aware times."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _payload(event: CanonicalEvent) -> dict[str, Any]:
    try:
        data = json.loads(event.payload)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def click_key(event: CanonicalEvent) -> ClickKey:
    payload = _payload(event)
    return ClickKey(
        brand_id=event.brand_id,
        occurred_at=_utc(event.occurred_at),
        click_id=event.click_id or "",
        device_id=str(payload.get("device_id") or ""),
        affiliate_id=event.affiliate_id or "",
        campaign_id=event.campaign_id or "",
        subs=tuple(str(payload.get(s) or "") for s in SUBS),
    )


def registration_key(event: CanonicalEvent) -> RegistrationKey:
    return RegistrationKey(
        brand_id=event.brand_id,
        registered_at=_utc(event.occurred_at),
        person_id=event.person_id,
        device_id=str(_payload(event).get("device_id") or ""),
        click_id=event.click_id or "",
    )


def link_of(click: ClickKey, reg: RegistrationKey, via: str, window: AttributionWindow) -> str | None:
    """How `click` belongs to `reg`'s path when they share the key `via`, or None.

    The named click always; a click of the same device only within the contract attribution's
    window (lookback before, clock skew after the registration; both ends included)."""
    if click.brand_id != reg.brand_id:
        return None
    if via == "click":
        return NAMED if click.click_id == reg.click_id else None
    if click.device_id != reg.device_id:
        return None
    return DEVICE if window.holds(click.occurred_at, reg.registered_at) else None


def pair_links(
    pairs: Iterable[tuple[ClickKey, RegistrationKey, str]], window: AttributionWindow
) -> dict[tuple[str, str, str], tuple[ClickKey, RegistrationKey, str]]:
    """The links the (click, registration, shared key kind) pairs make, one per (brand, person,
    click): the named click's link when the click is reached both ways."""
    links: dict[tuple[str, str, str], tuple[ClickKey, RegistrationKey, str]] = {}
    for click, reg, via in pairs:
        link = link_of(click, reg, via, window)
        if link is None:
            continue
        key = (reg.brand_id, reg.person_id, click.click_id)
        held = links.get(key)
        if held is None or (held[2] == DEVICE and link == NAMED):
            links[key] = (click, reg, link)
    return links


def _click_key_rows(clicks: Sequence[ClickKey]) -> list[list[Any]]:
    return [
        [c.brand_id, via, key, c.occurred_at, c.click_id, c.device_id, c.affiliate_id, c.campaign_id, *c.subs]
        for c in clicks
        for via, key in c.lookup_keys()
    ]


def _registration_key_rows(regs: Sequence[RegistrationKey]) -> list[list[Any]]:
    return [
        [r.brand_id, via, key, r.registered_at, r.person_id, r.device_id, r.click_id]
        for r in regs
        for via, key in r.lookup_keys()
    ]


def _lookup(
    client: Client,
    db: str,
    table: str,
    columns: Sequence[str],
    time_column: str,
    keys: set[tuple[str, str, str]],
    since: datetime,
    until: datetime,
) -> list[tuple[Any, ...]]:
    """Rows of a key table under `keys` (brand, via, key): by primary key, a 'device' row only
    in [since, until] (the window), a 'click' row at any time (the named click is linked always)."""
    if not keys:
        return []
    sql = (
        f"SELECT {', '.join(columns)} FROM {db}.{table} "
        "WHERE brand_id IN {brands:Array(String)} "
        "AND (brand_id, via, key) IN {keys:Array(Tuple(String, String, String))} "
        f"AND (via = 'click' OR {time_column} BETWEEN {{since:DateTime64(3, 'UTC')}} "
        "AND {until:DateTime64(3, 'UTC')})"
    )
    rows = client.query(
        sql,
        parameters={
            "brands": sorted({k[0] for k in keys}),
            "keys": sorted(keys),
            "since": since.replace(tzinfo=None),
            "until": until.replace(tzinfo=None),
        },
    ).result_rows
    return [tuple(r) for r in rows]


def _known_links(client: Client, db: str, persons: set[tuple[str, str]]) -> dict[tuple[str, str, str], str]:
    """The links already held for these (brand, person)s: their strongest kind each."""
    if not persons:
        return {}
    rows = client.query(
        f"SELECT brand_id, person_id, click_id, max(link) FROM {db}.touchpoint_rows "
        "WHERE brand_id IN {brands:Array(String)} "
        "AND (brand_id, person_id) IN {persons:Array(Tuple(String, String))} "
        "GROUP BY brand_id, person_id, click_id",
        parameters={"brands": sorted({p[0] for p in persons}), "persons": sorted(persons)},
    ).result_rows
    return {(str(b), str(p), str(c)): str(link) for b, p, c, link in rows}


def _clicks_reached(
    client: Client, db: str, regs: Sequence[RegistrationKey], window: AttributionWindow
) -> list[tuple[ClickKey, RegistrationKey, str]]:
    """The stored clicks under the registrations' keys: (click, registration, via) pairs."""
    if not regs:
        return []
    by_key: dict[tuple[str, str, str], list[RegistrationKey]] = {}
    for r in regs:
        for via, key in r.lookup_keys():
            by_key.setdefault((r.brand_id, via, key), []).append(r)
    times = [r.registered_at for r in regs]
    rows = _lookup(
        client,
        db,
        "touchpoint_click_keys",
        CLICK_KEY_COLUMNS,
        "occurred_at",
        set(by_key),
        window.starts(min(times)),
        window.ends(max(times)),
    )
    pairs = []
    for brand, via, key, at, click_id, device, aff, camp, *subs in rows:
        found = ClickKey(
            str(brand), _utc(at), str(click_id), str(device), str(aff), str(camp), tuple(str(s) for s in subs)
        )
        pairs += [(found, r, str(via)) for r in by_key.get((str(brand), str(via), str(key)), [])]
    return pairs


def _registrations_reaching(
    client: Client, db: str, clicks: Sequence[ClickKey], window: AttributionWindow
) -> list[tuple[ClickKey, RegistrationKey, str]]:
    """The stored registrations under the clicks' keys: (click, registration, via) pairs."""
    if not clicks:
        return []
    by_key: dict[tuple[str, str, str], list[ClickKey]] = {}
    for c in clicks:
        for via, key in c.lookup_keys():
            by_key.setdefault((c.brand_id, via, key), []).append(c)
    times = [c.occurred_at for c in clicks]
    rows = _lookup(
        client,
        db,
        "touchpoint_registration_keys",
        REGISTRATION_KEY_COLUMNS,
        "registered_at",
        set(by_key),
        min(times) - window.clock_skew,
        max(times) + window.lookback,
    )
    pairs = []
    for brand, via, key, at, person, device, named in rows:
        reg = RegistrationKey(str(brand), _utc(at), str(person), str(device), str(named))
        pairs += [(c, reg, str(via)) for c in by_key.get((str(brand), str(via), str(key)), [])]
    return pairs


def link_touchpoints(
    client: Client, db: str, events: Sequence[CanonicalEvent], *, lookback_days: int = 30,
    clock_skew_s: int = DEFAULT_CLOCK_SKEW_S,
) -> int:
    """Link the clicks and registrations among `events` (just written to `events`) to what
    ClickHouse already holds; the number of touchpoints newly linked.

    Call it with every canonical event of every batch written, replays included: a batch
    replayed after a crash between its events and its links is linked then, and a link made
    before changes nothing (known links are not written again)."""
    clicks = [click_key(e) for e in events if e.event_type == "click" and e.click_id]
    regs = [registration_key(e) for e in events if e.event_type == "registration"]
    regs = [r for r in regs if r.click_id or r.device_id]
    if not clicks and not regs:
        return 0
    for table, names, rows in (
        ("touchpoint_click_keys", CLICK_KEY_COLUMNS, _click_key_rows(clicks)),
        ("touchpoint_registration_keys", REGISTRATION_KEY_COLUMNS, _registration_key_rows(regs)),
    ):
        if rows:
            client.insert(f"{db}.{table}", rows, column_names=names)

    window = AttributionWindow(timedelta(days=lookback_days), timedelta(seconds=clock_skew_s))
    pairs = _clicks_reached(client, db, regs, window) + _registrations_reaching(
        client, db, clicks, window
    )
    links = pair_links(pairs, window)
    known = _known_links(client, db, {(b, p) for b, p, _ in links})
    new = {k: v for k, v in links.items() if known.get(k) not in (v[2], NAMED)}
    if not new:
        return 0
    client.insert(
        f"{db}.touchpoint_rows",
        [
            [
                r.brand_id,
                r.person_id,
                c.click_id,
                c.affiliate_id,
                c.campaign_id,
                *c.subs,
                c.occurred_at,
                r.registered_at,
                link,
                c.device_id,
            ]
            for c, r, link in new.values()
        ],
        column_names=TOUCHPOINT_COLUMNS,
    )
    for link in (NAMED, DEVICE):
        count = sum(1 for *_, kind in new.values() if kind == link)
        if count:
            TOUCHPOINTS_LINKED.labels(link).inc(count)
    return len(new)


# --- paths ------------------------------------------------------------------------------------

NO_VALUE: Mapping[str, Decimal] = MappingProxyType({})

# Seconds between two DateTime64(3) values, exact to the millisecond.
_AGE = "(toUnixTimestamp64Milli({end}) - toUnixTimestamp64Milli({start})) / 1000"
_VALUE_TYPE = "Map(String, Decimal(20, 4))"


def _channel_sql(by: Literal["affiliate", "campaign"], aff: str, camp: str) -> str:
    return aff if by == "affiliate" else f"concat({aff}, '/', {camp})"


def _converting_sql(
    db: str,
    where: str,
    conversion: Literal["registration", "ftd"],
    channel: str,
    value: Literal["ngr", "deposits"],
) -> str:
    """Registered persons' paths: their touches in the window, ages to the conversion.

    One aggregation over `touchpoint_rows` (a link written twice is one touch: arrayDistinct
    on the click), joined to `players` for the FTD and the value."""
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
            SELECT person_id, min(registered_at) AS reg_at,
                   arraySort(arrayFilter(
                       x -> x.1 <= reg_at + toIntervalSecond({{skew:UInt32}})
                            AND x.1 >= reg_at - toIntervalDay({{lookback:UInt32}}),
                       arrayDistinct(groupArray((clicked_at, click_id, {channel})))
                   )) AS touches
            FROM {db}.touchpoint_rows
            WHERE {where}
            GROUP BY brand_id, person_id
            HAVING notEmpty(touches)
        ) AS t
        LEFT JOIN
        (
            SELECT person_id, first_deposit_at AS ftd_at, {money} AS money FROM {db}.players
        ) AS p ON p.person_id = t.person_id
    """


def _non_converting_sql(db: str, brand_where: str, day_where: str, channel: str) -> str:
    """Clicks no person's path holds: a device's (its 'device' key rows, stored in device and
    time order), split where a gap exceeds the lookback; a click without a device id alone.
    Ages to the path's last click.

    Linked clicks are told by a 64-bit hash of (brand, click id), grouped keys too: a set of
    integers is several times cheaper than one of string pairs, and a collision (about one in
    10^6 over 10^7 clicks) would at worst drop one unlinked click from these paths."""
    linked = (
        f"cityHash64(brand_id, click_id) NOT IN "
        f"(SELECT cityHash64(brand_id, click_id) FROM {db}.touchpoint_rows WHERE {brand_where})"
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
            FROM {db}.touchpoint_click_keys
            WHERE (via = 'device' OR (via = 'click' AND device_id = ''))
              AND {brand_where} AND {linked}
            GROUP BY cityHash64(brand_id, via, key)
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
    where = f"{brand_where} AND {day_where.format(day='toDate(registered_at)')}"
    channel = _channel_sql(by, "affiliate_id", "campaign_id")
    sql = _converting_sql(db, where, conversion, channel, value)
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
    A person's touches are their linked clicks in the contract attribution's window
    (domain/attribution.py), oldest first. since/until filter the registration's UTC day (a
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
