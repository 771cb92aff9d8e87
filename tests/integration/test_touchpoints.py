"""Touchpoints in real ClickHouse (embedded chdb, the shipped DDL), from the identity graph: the
events go through the pipeline's stages in memory (clickpath.devtools.topology: the real stage
declarations, runtime and codec), and what the stages send on the sink's topics (canonical
events, the identity stage's TouchpointLinks) is written by the real ClickHouse sink. A
registration's path holds its named click and its device's clicks in the lookback window,
whatever order clicks and registration arrive in; nothing else is on it; a replay adds nothing;
the views and `query_paths` read exact paths without FINAL.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path as FsPath
from typing import Any

import pytest

from clickpath.contracts.models import (
    CanonicalEvent,
    Click,
    CurrencyTotals,
    IngressEvent,
    PlayerProfile,
    Record,
    Registration,
    TouchpointLink,
)
from clickpath.contracts.topics import Topic
from clickpath.devtools.topology import Topology, pipeline_stages
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.multitouch import Path
from clickpath.domain.outputs import canonical_of
from clickpath.infra.clickhouse import apply_migrations, shipped_migrations_dir
from clickpath.infra.touchpoints import query_paths
from clickpath.sinks.clickhouse.writer import ClickHouseSink, write_batch
from tests.factories import click, registration

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
DAY = 24 * 60  # minutes
# The contract attribution's window as `clickpath worker` runs it by default (settings): the
# identity stage's touchpoints use the same (IdentityPolicy's defaults).
WINDOW = AttributionWindow(lookback=timedelta(days=30), clock_skew=timedelta(seconds=300))
SINK_TOPICS = (Topic.CANONICAL, Topic.IDENTITY_TOUCHPOINTS)


class Pipeline:
    """The stages in memory in front of the real ClickHouse sink: `write` sends events through
    the stages, then writes what they sent on the sink's topics since the last write as one
    sink batch, and returns it."""

    def __init__(self, sink: ClickHouseSink) -> None:
        self.sink = sink
        self.top = Topology(pipeline_stages(window=WINDOW), start=T0 + timedelta(days=1))
        self.written = dict.fromkeys(SINK_TOPICS, 0)

    def new_records(self) -> list[Record]:
        out: list[Record] = []
        for topic in SINK_TOPICS:
            records = self.top.emitted(topic)
            out += records[self.written[topic]:]
            self.written[topic] = len(records)
        return out

    def write(self, *events: IngressEvent) -> list[Record]:
        self.top.send_all(events)
        batch = self.new_records()
        self.sink.write([(None, r) for r in batch])  # type: ignore[misc]  # the message is not read
        return batch


@pytest.fixture
def sink(settings):
    s = ClickHouseSink(settings)
    yield s
    s._consumer.close()
    s.close()


@pytest.fixture
def pipe(sink) -> Pipeline:
    return Pipeline(sink)


def canonical(event: IngressEvent) -> CanonicalEvent:
    person = event.person_id if isinstance(event, Registration) else ""
    return canonical_of(event, person, T0 + timedelta(days=400))


def on_device(event: Click | Registration, device: str | None) -> Click | Registration:
    return event.model_copy(update={"device_id": device})


def touchpoints(sink: ClickHouseSink, where: str = "1") -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in sink.client.query(
            "SELECT person_id, click_id, affiliate_id, link, sub1 "
            f"FROM {sink.db}.touchpoints WHERE {where} ORDER BY person_id, clicked_at, click_id"
        ).result_rows
    ]


def journey() -> tuple[list[Click], Registration]:
    """Three clicks on device d1 over three days, from three affiliates, then a registration
    naming the last one."""
    clicks = [
        on_device(click("c1", "aff-1", minutes=-3 * DAY, sub1="s1"), "d1"),
        on_device(click("c2", "aff-2", minutes=-2 * DAY), "d1"),
        on_device(click("c3", "aff-3", minutes=-10), "d1"),
    ]
    return clicks, on_device(registration("p1", "c3", minutes=0), "d1")


EXPECTED = [
    ("brand-a:p1", "c1", "aff-1", "device", "s1"),
    ("brand-a:p1", "c2", "aff-2", "device", ""),
    ("brand-a:p1", "c3", "aff-3", "named_click", ""),
]


def test_clicks_before_the_registration_make_its_path(pipe) -> None:
    clicks, reg = journey()
    pipe.write(*clicks)
    assert touchpoints(pipe.sink) == []
    pipe.write(reg)
    assert touchpoints(pipe.sink) == EXPECTED


def test_clicks_written_after_the_registration_make_the_same_path(pipe) -> None:
    clicks, reg = journey()
    pipe.write(reg)
    assert touchpoints(pipe.sink) == []
    pipe.write(clicks[2])
    pipe.write(*clicks[:2])
    assert touchpoints(pipe.sink) == EXPECTED


def test_one_batch_holding_both_sides_links_them(pipe) -> None:
    clicks, reg = journey()
    pipe.write(reg, *reversed(clicks))
    assert touchpoints(pipe.sink) == EXPECTED


def test_only_the_window_the_brand_and_the_device_link(pipe) -> None:
    reg = on_device(registration("p1", "named", minutes=0), "d1")
    pipe.write(
        on_device(click("old", minutes=-30 * DAY - 1), "d1"),  # a minute before the window
        on_device(click("edge", minutes=-30 * DAY), "d1"),  # the window's first instant
        on_device(click("at-reg", minutes=0), "d1"),  # the registration's instant
        on_device(click("after", minutes=5 + 1 / 60), "d1"),  # beyond the 5-minute clock skew
        on_device(click("other-brand", minutes=-5, brand="brand-b"), "d1"),
        on_device(click("other-device", minutes=-5), "d2"),
        click("no-device", minutes=-5),
        # the named click counts whatever its time and device
        on_device(click("named", minutes=-40 * DAY), "d9"),
    )
    pipe.write(reg)
    got = {(c, link) for _, c, _, link, _ in touchpoints(pipe.sink)}
    assert got == {("edge", "device"), ("at-reg", "device"), ("named", "named_click")}


@pytest.mark.parametrize("clicks_first", [True, False])
def test_a_click_within_the_clock_skew_after_the_registration_is_on_its_path(
    pipe, clicks_first: bool
) -> None:
    """The stream's rule (domain/attribution.py): a click stamped the same second as the
    registration (700 ms later) or up to CLICKPATH_ATTRIBUTION_CLOCK_SKEW_S (300 s) after it
    counts; one a second beyond does not. Linked whichever side is written first, and on the
    path the attribution models read."""
    reg = on_device(registration("p1", "named", minutes=0), "d1")
    clicks = [
        on_device(click("same-second", "aff-1", minutes=0.7 / 60), "d1"),
        on_device(click("within", "aff-2", minutes=4 + 59 / 60), "d1"),
        on_device(click("beyond", "aff-3", minutes=5 + 1 / 60), "d1"),
        on_device(click("named", "aff-2", minutes=0.2 / 60), "d9"),
    ]
    for batch in ([*clicks], [reg]) if clicks_first else ([reg], [*clicks]):
        pipe.write(*batch)
    got = {(c, link) for _, c, _, link, _ in touchpoints(pipe.sink)}
    assert got == {("same-second", "device"), ("within", "device"), ("named", "named_click")}
    converting = [p for p in paths(pipe.sink) if p.converted]
    assert [p.channels for p in converting] == [("aff-2", "aff-1", "aff-2")]  # time order
    strict = [p for p in paths(pipe.sink, clock_skew_s=0) if p.converted]
    assert strict == []  # with no tolerance every touch is after the registration


def test_a_registration_without_device_links_its_named_click_only(pipe) -> None:
    pipe.write(on_device(click("c1", minutes=-5), "d1"), on_device(click("c2", minutes=-1), "d1"))
    pipe.write(registration("p1", "c2"))
    assert [(c, link) for _, c, _, link, _ in touchpoints(pipe.sink)] == [("c2", "named_click")]


def test_a_device_shared_by_two_players_links_each_in_its_window(pipe) -> None:
    pipe.write(on_device(click("c1", minutes=-10 * DAY), "d1"), on_device(click("c2", minutes=-1), "d1"))
    pipe.write(
        on_device(registration("p1", None, minutes=-9 * DAY), "d1"),
        on_device(registration("p2", "c2", minutes=0), "d1"),
    )
    assert [(p, c, link) for p, c, _, link, _ in touchpoints(pipe.sink)] == [
        ("brand-a:p1", "c1", "device"),
        ("brand-a:p2", "c1", "device"),
        ("brand-a:p2", "c2", "named_click"),
    ]


def test_replaying_adds_nothing(pipe) -> None:
    """Events sent again (a door's retry, a worker's replay) make no new touchpoint, and a sink
    batch written again (a sink killed before its commit) reads the same."""
    clicks, reg = journey()
    pipe.write(*clicks)
    sent = [r for r in pipe.write(reg) if isinstance(r, TouchpointLink)]
    assert sorted((t.click_id, t.link) for t in sent) == [
        ("c1", "device"), ("c2", "device"), ("c3", "named_click")]
    assert {t.registered_at for t in sent} == {reg.occurred_at}
    for batch in ([reg], clicks, [*clicks, reg]):
        assert not any(isinstance(r, TouchpointLink) for r in pipe.write(*batch))
    pipe.sink.write([(None, r) for r in sent])  # type: ignore[misc]
    assert touchpoints(pipe.sink) == EXPECTED


def test_the_view_reads_one_link_per_click_however_often_it_was_written(pipe) -> None:
    """A named click first reached by its device is sent as each kind; a batch may be written
    twice (a sink killed before its commit). The view reads one row per click, the named one,
    before and after a merge."""
    clicks, reg = journey()
    pipe.write(*clicks, reg)
    named = TouchpointLink(account="brand-a:p1", brand_id="brand-a", click_id="c3",
                           affiliate_id="aff-3", campaign_id="camp-1",
                           clicked_at=clicks[2].occurred_at, link="device",
                           registered_at=reg.occurred_at)
    again = [named, named.model_copy(update={"link": "named_click"})]
    pipe.sink.write([(None, r) for r in again + again])  # type: ignore[misc]
    assert touchpoints(pipe.sink) == EXPECTED
    pipe.sink.client.command(f"OPTIMIZE TABLE {pipe.sink.db}.identity_touchpoints FINAL")
    assert touchpoints(pipe.sink) == EXPECTED


def player(player_id: str, ftd_minutes: float | None, ngr: str, deposits: str) -> PlayerProfile:
    money = CurrencyTotals(
        currency="EUR",
        deposit_sum=Decimal(deposits),
        withdrawal_sum=Decimal(0),
        chargeback_sum=Decimal(0),
        stakes=Decimal(ngr),
        wins=Decimal(0),
        bonus_stakes=Decimal(0),
        bonus_cost=Decimal(0),
        ggr=Decimal(ngr),
        ngr=Decimal(ngr),
    )
    return PlayerProfile(
        person_id=f"brand-a:{player_id}",
        brand_id="brand-a",
        player_id=player_id,
        registered_at=T0,
        first_deposit_at=None if ftd_minutes is None else T0 + timedelta(minutes=ftd_minutes),
        deposits=1,
        declined_deposits=0,
        withdrawals=0,
        chargebacks=0,
        money=[money],
        sessions=0,
        activity_events=0,
        consents={},
        rg_active=[],
        tag_status="attributed",
        affiliate_id="aff-3",
        campaign_id="camp-1",
        churn_risk=0.0,
        updated_at=T0,
        version=1,
    )


def test_the_paths_view_orders_clicks_and_carries_the_value(pipe) -> None:
    clicks, reg = journey()
    pipe.write(reg, clicks[1], clicks[2], clicks[0])
    pipe.sink.write([(None, player("p1", 30, "12.5", "40"))])
    result = pipe.sink.client.query(
        "SELECT person_id, registered_at, affiliate_ids, click_ids, links, touches, registered, "
        f"ftd, first_deposit_at, ngr, deposit_sum FROM {pipe.sink.db}.touchpoint_paths"
    )
    [row] = result.result_rows
    assert row[0] == "brand-a:p1" and row[2:8] == (
        ["aff-1", "aff-2", "aff-3"],
        ["c1", "c2", "c3"],
        ["device", "device", "named_click"],
        3,
        1,
        1,
    )
    assert row[8].replace(tzinfo=UTC) == T0 + timedelta(minutes=30)
    assert row[9] == {"EUR": Decimal("12.5")} and row[10] == {"EUR": Decimal("40")}


def story(pipe: Pipeline) -> None:
    """p1: three touches, an FTD 30 minutes after registering; p2: one touch, no FTD; d7: two
    clicks three days apart and one 40 days later (two non-converting paths); one click without
    a device (its own path); a brand-b click (filtered out by brand)."""
    clicks, reg = journey()
    pipe.write(*clicks, reg)
    pipe.write(
        on_device(click("p2c", "aff-2", campaign="camp-9", minutes=-60), "d2"),
        on_device(registration("p2", "p2c", minutes=0), "d2"),
    )
    pipe.write(
        on_device(click("n1", "aff-1", minutes=-50 * DAY), "d7"),
        on_device(click("n2", "aff-2", minutes=-47 * DAY), "d7"),
        on_device(click("n3", "aff-3", minutes=-7 * DAY), "d7"),
        click("n4", "aff-2", minutes=-5),
        on_device(click("b1", "aff-1", minutes=-5, brand="brand-b"), "d8"),
    )
    pipe.sink.write([(None, player("p1", 30, "12.5", "40")), (None, player("p2", None, "0", "0"))])


def paths(sink: ClickHouseSink, **kw: Any) -> list[Path]:
    args: dict[str, Any] = dict(
        brand_id="brand-a",
        conversion="registration",
        by="affiliate",
        value="ngr",
        since=None,
        until=None,
        lookback_days=30,
    )
    got = query_paths(sink.client, sink.db, **{**args, **kw})
    return sorted(got, key=lambda p: (p.converted, p.channels, p.ages_s))


H = 3600.0


def test_registration_paths_include_clicks_that_never_converted(pipe) -> None:
    story(pipe)
    assert paths(pipe.sink) == [
        Path(("aff-1", "aff-2"), (3 * 24 * H, 0.0), False, {}),  # d7's first two
        Path(("aff-2",), (0.0,), False, {}),  # the click without a device
        Path(("aff-3",), (0.0,), False, {}),  # d7's third, 40 days after
        Path(("aff-1", "aff-2", "aff-3"), (3 * 24 * H, 2 * 24 * H, 600.0), True, {"EUR": Decimal("12.5")}),
        Path(("aff-2",), (H,), True, {}),  # p2: NGR 0, nothing to carry
    ]


def test_ftd_paths_are_the_registered_persons_converted_by_their_ftd(pipe) -> None:
    story(pipe)
    assert paths(pipe.sink, conversion="ftd", by="campaign", value="deposits") == [
        Path(("aff-2/camp-9",), (H,), False, {}),  # ages to the registration
        Path(
            ("aff-1/camp-1", "aff-2/camp-1", "aff-3/camp-1"),
            (3 * 24 * H + 1800, 2 * 24 * H + 1800, 2400.0),
            True,
            {"EUR": Decimal("40")},
        ),
    ]


def test_paths_filter_by_brand_day_and_lookback(pipe) -> None:
    story(pipe)
    assert [p.channels for p in paths(pipe.sink, brand_id="brand-b")] == [("aff-1",)]
    assert {p.channels for p in paths(pipe.sink, brand_id=None)} >= {("aff-1",), ("aff-2",)}
    assert len(paths(pipe.sink, brand_id=None)) == 6
    day = T0.date()
    assert [p.converted for p in paths(pipe.sink, since=day, until=day)] == [False, True, True]
    assert paths(pipe.sink, conversion="ftd", since=day + timedelta(days=1)) == []
    # a shorter window: p1's device clicks are older than a day
    short = [p.channels for p in paths(pipe.sink, conversion="ftd", lookback_days=1)]
    assert sorted(short) == [("aff-2",), ("aff-3",)]
    # and d7's clicks, three days apart, split
    assert sum(not p.converted for p in paths(pipe.sink, lookback_days=1)) == 4


def test_an_upgrade_keeps_the_links_earlier_versions_made(settings, tmp_path: FsPath) -> None:
    """Events stored before touchpoints existed (v5) are linked by migration 006, and what it
    linked is carried into the identity graph's touchpoints by 014, which the views read."""
    from clickpath.infra.clickhouse import connect

    old = tmp_path / "ddl"
    old.mkdir()
    for f in shipped_migrations_dir().glob("*.sql"):
        if f.stem < "006":
            shutil.copy(f, old / f.name)
    client = connect(settings)
    db = settings.clickhouse_database
    apply_migrations(client, db, old)
    clicks, reg = journey()
    write_batch(client, db, [canonical(e) for e in [*clicks, reg]])  # no linking before v6
    applied = apply_migrations(client, db)
    assert applied[0] == "006_touchpoints" and "014_touchpoints_from_identity" in applied
    rows = client.query(f"SELECT click_id, link, sub1 FROM {db}.touchpoints ORDER BY clicked_at").result_rows
    assert [tuple(r) for r in rows] == [
        ("c1", "device", "s1"),
        ("c2", "device", ""),
        ("c3", "named_click", ""),
    ]
    client.close()


def test_a_value_in_several_currencies_is_carried_whole(pipe) -> None:
    pipe.write(on_device(click("c1", minutes=-5), "d1"), on_device(registration("p1", "c1", minutes=0), "d1"))
    profile = player("p1", 10, "7", "30")
    sek = profile.money[0].model_copy(update={"currency": "SEK", "ngr": Decimal("-3.5")})
    pipe.sink.write([(None, profile.model_copy(update={"money": [*profile.money, sek]}))])
    [path] = paths(pipe.sink, conversion="ftd")
    assert path.value == {"EUR": Decimal("7"), "SEK": Decimal("-3.5")}
    assert path.ages_s == (900.0,) and path.converted
