"""The touchpoint write path: key rows for a batch's clicks and registrations, the look-ups
that find the other side, and the links the linking rule (clickpath.domain.touch_linking) makes.

Right after the ClickHouse sink writes a batch of canonical events it calls `link_touchpoints`,
which first writes the batch's clicks and registrations into the key tables
(deploy/clickhouse/006_touchpoints.sql), then looks up the other side by key: for the batch's
registrations the clicks they reach, for its clicks the registrations that reach them. Each
insert has returned (and is visible to every later query) before the look-up that follows it,
so of a click and a registration, the one whose look-up runs second sees the other, even when
two sinks write them at the same time: if A's look-up missed B's row, B's insert ended after A's
look-up began, hence after A's insert, and B's look-up (after B's insert) sees A's row. Nothing
here reads `events` and nothing scans: look-ups go by the key tables' primary key, in the months
the window spans.

Never use FINAL here: the key tables may hold a replayed batch twice, and the links are read
grouped by their key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from clickpath.contracts.models import CanonicalEvent
from clickpath.domain.attribution import DEFAULT_CLOCK_SKEW_S, DEFAULT_LOOKBACK_DAYS, AttributionWindow
from clickpath.domain.touch_linking import (
    DEVICE,
    NAMED,
    SUBS,
    ClickKey,
    LinkId,
    RegistrationKey,
    linkable,
    pair_links,
    unheld_links,
    utc,
)
from clickpath.infra.faults import fault_point
from clickpath.infra.metrics import TOUCHPOINTS_LINKED

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


def _known_links(client: Client, db: str, persons: set[tuple[str, str]]) -> dict[LinkId, str]:
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
            str(brand), utc(at), str(click_id), str(device), str(aff), str(camp), tuple(str(s) for s in subs)
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
        reg = RegistrationKey(str(brand), utc(at), str(person), str(device), str(named))
        pairs += [(c, reg, str(via)) for c in by_key.get((str(brand), str(via), str(key)), [])]
    return pairs


def link_touchpoints(
    client: Client, db: str, events: Sequence[CanonicalEvent], *,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS, clock_skew_s: int = DEFAULT_CLOCK_SKEW_S,
) -> int:
    """Link the clicks and registrations among `events` (just written to `events`) to what
    ClickHouse already holds; the number of touchpoints newly linked.

    Call it with every canonical event of every batch written, replays included: a batch
    replayed after a crash between its events and its links is linked then, and a link made
    before changes nothing (known links are not written again)."""
    clicks, regs = linkable(events)
    if not clicks and not regs:
        return 0
    for table, names, rows in (
        ("touchpoint_click_keys", CLICK_KEY_COLUMNS, _click_key_rows(clicks)),
        ("touchpoint_registration_keys", REGISTRATION_KEY_COLUMNS, _registration_key_rows(regs)),
    ):
        if rows:
            client.insert(f"{db}.{table}", rows, column_names=names)
            fault_point(f"sink.after_insert.{table}")

    window = AttributionWindow(timedelta(days=lookback_days), timedelta(seconds=clock_skew_s))
    pairs = _clicks_reached(client, db, regs, window) + _registrations_reaching(
        client, db, clicks, window
    )
    links = pair_links(pairs, window)
    new = unheld_links(links, _known_links(client, db, {(b, p) for b, p, _ in links}))
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
    fault_point("sink.after_insert.touchpoint_rows")
    for link in (NAMED, DEVICE):
        count = sum(1 for *_, kind in new.values() if kind == link)
        if count:
            TOUCHPOINTS_LINKED.labels(link).inc(count)
    return len(new)
